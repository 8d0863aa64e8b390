"""The live pipeline page (/ui) in a real headless Chromium against a real `qframe run`."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.ops.cdp import Browser
from tests.integration.ops.daemon import TOKEN, Daemon
from tests.integration.ops.test_tap_top import lines
from tests.services import unavailable

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium is not installed (tests/services/install.sh installs it)")
    assert path is not None
    return path


def browse(chromium: str, tmp: Path, url: str, *extra: str) -> str:
    """The page's DOM after its scripts ran (5 s of virtual time)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    res = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def nodes(dom: str) -> dict[str, dict[str, str]]:
    """Each node's data attributes, by key."""
    out = {}
    for tag in re.findall(r'<div class="node[^"]*"[^>]*>', dom):
        attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag))
        attrs["class"] = re.search(r'class="([^"]*)"', tag).group(1)  # type: ignore[union-attr]
        out[attrs["key"]] = attrs
    return out


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    yield d
    d.kill()


def test_the_page_shows_every_instance_its_edges_and_state(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    dom = browse(chromium, tmp_path, f"http://{daemon.address}/ui#token={TOKEN}")
    got = nodes(dom)
    assert set(got) == {
        "collector.stdin",
        "filter.id",
        "filter.apache",
        "handler.log",
        "handler.unparsed",
    }
    assert all(n["state"] == "ok" and "ok" in n["class"].split() for n in got.values())
    assert 'class="edge" data-from="collector.stdin" data-to="filter.id"' in dom
    # the else branch: grok's unmatched lines to `unparsed`, marked
    assert 'class="edge else" data-from="filter.apache" data-to="handler.unparsed"' in dom
    assert ">else</text>" in dom
    assert 'id="login" hidden' in dom
    assert '<div id="graph" data-layout="horizontal">' in dom


async def test_a_rate_changes_while_lines_flow(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    url = f"http://{daemon.address}/ui#token={TOKEN}"
    idle = nodes(browse(chromium, tmp_path, url))
    assert float(idle["filter.apache"]["rate"]) == 0.0
    rate = "Number(document.querySelector('.node[data-key=\"%s\"]')?.dataset.rate || 0) > 0"
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.02):
            daemon.feed(lines(200))

    t = threading.Thread(target=feed)
    t.start()
    try:
        # awaited in a live browser: the page's polls see the rates once lines flowed
        # (a DOM dumped after a fixed virtual-time budget could come before that)
        async with Browser(chromium, tmp_path / "cdp", CHROMIUM_FLAGS) as b:
            await b.call("Page.navigate", url=url)
            await b.wait_for(rate % "filter.apache", what="the filter's rate")
            await b.wait_for(rate % "collector.stdin", what="the collector's rate")
    finally:
        stop.set()
        t.join()


def test_without_the_token_the_page_asks_for_it_and_shows_nothing(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    dom = browse(chromium, tmp_path, f"http://{daemon.address}/ui")
    assert '<form id="login">' in dom
    assert "token needed" in dom
    assert nodes(dom) == {}
    assert "apache" not in dom and "unparsed" not in dom
    wrong = browse(chromium, tmp_path, f"http://{daemon.address}/ui#token=wrong")
    assert "wrong token" in wrong
    assert nodes(wrong) == {}
    assert "apache" not in wrong


def test_the_token_protects_the_page_and_its_files(daemon: Daemon, tmp_path: Path) -> None:
    status, body = daemon.get("/ui")
    assert status == 401
    assert 'id="login"' in body and "sessionStorage" in body
    assert "apache" not in body and "graph" not in body  # no data, not even the app's code
    assert daemon.get("/ui", "wrong")[0] == 401
    assert daemon.get("/ui/app.js")[0] == 401
    assert daemon.get("/ui/style.css")[0] == 401
    assert daemon.get("/ui/login.html", TOKEN)[0] == 404
    status, page = daemon.get("/ui", TOKEN)
    assert status == 200
    # one response holds the page: its script and style inline, nothing fetched without it
    assert 'src="ui/app.js"' not in page and 'href="ui/style.css"' not in page
    assert 'fetch("graph"' in page and "--ok:" in page
    assert daemon.get("/ui/app.js", TOKEN)[0] == 200
    open_ = Daemon(
        tmp_path / "open" if (tmp_path / "open").mkdir() is None else tmp_path, token=None
    )
    try:
        status, page = open_.get("/ui")
        assert status == 200 and 'fetch("graph"' in page
    finally:
        open_.kill()


async def test_the_prompt_takes_the_token_and_the_tab_keeps_it(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    async with Browser(chromium, tmp_path / "cdp", CHROMIUM_FLAGS) as b:
        await b.call("Page.navigate", url=f"http://{daemon.address}/ui")
        await b.wait_for("document.getElementById('token') !== null", what="the prompt")
        assert await b.eval("document.querySelectorAll('.node').length") == 0
        assert "apache" not in await b.eval("document.documentElement.outerHTML")
        await b.eval(
            f"document.getElementById('token').value = {TOKEN!r};"
            "document.getElementById('login').requestSubmit(); true"
        )
        await b.wait_for("document.querySelectorAll('.node').length === 5", what="the graph")
        assert await b.eval("sessionStorage.getItem('qframe-token')") == TOKEN
        assert await b.eval("location.href") == f"http://{daemon.address}/ui"
        # a reload: the prompt finds the token in sessionStorage, nobody types it again
        await b.call("Page.reload")
        await b.wait_for(
            "document.querySelectorAll('.node').length === 5 && "
            "document.querySelector('.node[data-key=\"filter.apache\"]') !== null",
            what="the graph after a reload",
        )


def test_a_phone_sized_screen_stacks_the_graph(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    dom = browse(
        chromium, tmp_path, f"http://{daemon.address}/ui#token={TOKEN}", "--window-size=390,844"
    )
    assert '<div id="graph" data-layout="vertical">' in dom
    assert len(nodes(dom)) == 5


async def test_a_click_target_taps_the_node(chromium: str, daemon: Daemon, tmp_path: Path) -> None:
    daemon.feed(lines(5))
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.05):
            daemon.feed(lines(5))

    t = threading.Thread(target=feed)
    t.start()
    try:
        # awaited in a live browser, not a DOM dumped after a fixed budget of virtual
        # time (the tap's first lines came after it on a slow start: no items)
        async with Browser(chromium, tmp_path / "cdp", CHROMIUM_FLAGS) as b:
            url = f"http://{daemon.address}/ui#token={TOKEN}&tap=apache"
            await b.call("Page.navigate", url=url)
            await b.wait_for(
                "document.querySelectorAll('#tap-lines li').length > 0", what="tapped lines"
            )
            name = await b.eval("document.getElementById('tap-name').textContent")
            first = await b.eval("document.querySelector('#tap-lines li').textContent")
    finally:
        stop.set()
        t.join()
    assert name == "apache"
    assert "clientip" in first


class _Proxy(BaseHTTPRequestHandler):
    upstream = ""

    def do_GET(self) -> None:
        if not self.path.startswith("/qframe/"):
            self.send_error(404)
            return
        req = urllib.request.Request(self.upstream + self.path[len("/qframe") :])
        if "Authorization" in self.headers:
            req.add_header("Authorization", self.headers["Authorization"])
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                body, status, ctype = r.read(), r.status, r.headers["Content-Type"]
        except urllib.error.HTTPError as exc:
            body, status, ctype = exc.read(), exc.code, exc.headers["Content-Type"]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_behind_a_reverse_proxy_under_a_prefix(
    chromium: str, daemon: Daemon, tmp_path: Path
) -> None:
    _Proxy.upstream = f"http://{daemon.address}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    t = threading.Thread(target=server.serve_forever)
    t.start()
    try:
        port = server.server_address[1]
        dom = browse(chromium, tmp_path, f"http://127.0.0.1:{port}/qframe/ui#token={TOKEN}")
    finally:
        server.shutdown()
        t.join()
    assert len(nodes(dom)) == 5
