"""The operators' routes of the ops server: ``/tap`` (NDJSON), ``/graph`` (JSON), ``/ui``.

``/tap`` is refused (403) unless the config sets ``http-tap: true``; with ``http-token``
set, ``/tap``, ``/graph``, ``/ui`` and its files need ``Authorization: Bearer <token>``
(401 otherwise).  A browser sends no such header when it opens a page, so ``/ui`` without
it answers 401 with a token prompt (``login.html``: no data, no instance names); the
prompt keeps the token in sessionStorage and fetches ``ui`` with it, which returns the page
with its script and style inline, shown in place of the prompt.  The page sends the token
with every request for ``graph`` and ``tap`` (relative URLs, so it works behind a reverse
proxy).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..aio import wait_event
from .tap import DEFAULT_RATE, STATS_EVERY, Tap, TapHub

if TYPE_CHECKING:
    from ..runtime.pipeline import Pipeline

__all__ = ["add_ops_routes", "graph"]

_UI_FILES = {
    "index.html": "text/html",
    "login.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}


def _authorized(request: web.Request, token: str | None) -> bool:
    if not token:
        return True
    got = request.headers.get("Authorization", "")
    scheme, _, value = got.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


def _refuse(status: int, text: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="qframe"'} if status == 401 else None
    return web.json_response({"error": text}, status=status, headers=headers)


def graph(pipeline: Pipeline, started: float) -> dict[str, Any]:
    """The instances, their edges (inputs, with the branch they take) and their counters."""
    instances = []
    for node in pipeline.nodes.values():
        snap = node.metrics.snapshot()
        snap.update(
            key=node.spec.key,
            name=node.name,
            inputs=list(node.spec.resolved_inputs),
            branch=node.spec.options.source_success,
            tapped=len(node.taps),
        )
        instances.append(snap)
    return {
        "uptime_s": round(time.time() - started, 3),
        "tap": pipeline.spec.http_tap,
        "instances": instances,
    }


def add_ops_routes(app: web.Application, pipeline: Pipeline, started: float) -> None:
    spec = pipeline.spec
    hub = TapHub()

    async def graph_route(request: web.Request) -> web.Response:
        if not _authorized(request, spec.http_token):
            return _refuse(401, "a bearer token is needed (http-token)")
        return web.json_response(graph(pipeline, started))

    async def tap_route(request: web.Request) -> web.StreamResponse:
        if not spec.http_tap:
            return _refuse(403, "tapping is off; `http-tap: true` in the config enables it")
        if not _authorized(request, spec.http_token):
            return _refuse(401, "a bearer token is needed (http-token)")
        names = [n for v in request.query.getall("instance", []) for n in v.split(",") if n]
        if not names:
            return _refuse(400, "name at least one instance: /tap?instance=NAME")
        nodes = []
        for n in names:
            node = pipeline.find(n)
            if node is None:
                return _refuse(404, f"no instance named {n!r}")
            if node not in nodes:
                nodes.append(node)
        try:
            rate = float(request.query.get("rate", DEFAULT_RATE))
            if rate < 0:
                raise ValueError
        except ValueError:
            return _refuse(400, "rate: expected messages per second (0: all)")
        tap = Tap(nodes, rate)
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        hub.taps.add(tap)
        hub.writers.add(task)
        tap.attach()
        try:
            await resp.write(tap.stats())
            await _stream(tap, resp)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            tap.detach()
            hub.taps.discard(tap)
            hub.writers.discard(task)
        return resp

    async def ui_page(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/"):  # /ui/: the page's relative URLs need /ui
            raise web.HTTPFound("../ui")
        if not _authorized(request, spec.http_token):
            return _ui_response("login.html", status=401)
        return _ui_response("index.html", _page())

    async def ui_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _UI_FILES or name == "login.html":
            raise web.HTTPNotFound()
        if not _authorized(request, spec.http_token):
            return _refuse(401, "a bearer token is needed (http-token)")
        return _ui_response(name)

    async def close_taps(_: web.Application) -> None:
        await hub.close()

    app.on_shutdown.append(close_taps)
    app.router.add_get("/graph", graph_route)
    app.router.add_get("/tap", tap_route)
    app.router.add_get("/ui", ui_page)
    app.router.add_get("/ui/", ui_page)
    app.router.add_get("/ui/{name}", ui_file)


async def _stream(tap: Tap, resp: web.StreamResponse) -> None:
    """Write the queued lines as they come, the counts every second, the end's counts."""
    last_stats = time.monotonic()
    while True:
        await wait_event(tap.wake, STATS_EVERY)
        tap.wake.clear()
        closed = tap.closed  # read before draining: what was queued before the close goes out
        q = tap.queue
        while q:
            lines = list(q)
            q.clear()
            tap.sent += len(lines)
            await resp.write(b"".join(lines))
        if closed:
            await resp.write(tap.stats(end=True))
            return
        now = time.monotonic()
        if now - last_stats >= STATS_EVERY:
            last_stats = now
            await resp.write(tap.stats())


def _ui_bytes(name: str) -> bytes:
    return resources.files("qframe").joinpath("ui", name).read_bytes()


def _page() -> bytes:
    """index.html with its style and script inline: one response, fetched with the token."""
    page = _ui_bytes("index.html")
    css = b"<style>\n" + _ui_bytes("style.css") + b"</style>"
    js = b"<script>\n" + _ui_bytes("app.js") + b"</script>"
    page = page.replace(b'<link rel="stylesheet" href="ui/style.css">', css)
    return page.replace(b'<script src="ui/app.js"></script>', js)


def _ui_response(name: str, body: bytes | None = None, status: int = 200) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="qframe"'
    return web.Response(
        body=_ui_bytes(name) if body is None else body,
        status=status,
        content_type=_UI_FILES[name],
        headers=headers,
    )
