"""The ops HTTP server: ``/health`` (JSON), ``/metrics`` (Prometheus text), plugin routes,
and the operators' ``/tap``, ``/graph`` and ``/ui`` (:mod:`qframe.ops.web`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import StartupError
from .ops.web import add_ops_routes
from .telemetry import render_prometheus

if TYPE_CHECKING:
    from .runtime.pipeline import Pipeline

__all__ = ["start_http_server"]

_STARTED = time.time()


def overall_status(states: list[str]) -> str:
    if any(s == "failed" for s in states):
        return "failed"
    if any(s in ("degraded", "starting") for s in states):
        return "degraded"
    return "ok"


async def start_http_server(pipeline: Pipeline, listen: str) -> web.AppRunner:
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        plugins = [m.snapshot() for m in pipeline.metrics]
        status = overall_status([p["state"] for p in plugins if p["state"] != "stopped"])
        body = {"status": status, "uptime_s": round(time.time() - _STARTED, 3), "plugins": plugins}
        return web.json_response(body, status=200 if status != "failed" else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            text=render_prometheus(pipeline.metrics),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Prometheus-Format": "0.0.4"},
        )

    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    add_ops_routes(app, pipeline, _STARTED)
    for node in pipeline.nodes.values():
        for method, path, handler in node.plugin.http_routes():
            app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    site = web.TCPSite(runner, host or "0.0.0.0", int(port), reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"http: cannot listen on {listen}: {exc.strerror or exc}") from exc
    return runner
