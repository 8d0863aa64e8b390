"""An engine that answers garbage or cuts its streams: logged, counted, retried, no crash.

The engine here is a scripted HTTP server on a real unix socket (aiohttp), so that the
collectors meet the broken answers a real engine cannot be made to give on purpose.
"""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from qframe.testing import Harness, wait_until
from tests.services import free_port

CID = "c0ffee" + "0" * 58
TS = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
TS_S = calendar.timegm(time.strptime(TS, "%Y-%m-%dT%H:%M:%SZ"))


def frame(stream: int, text: str) -> bytes:
    payload = f"{TS} {text}\n".encode()
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def event(action: str, n: int) -> bytes:
    e = {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": CID, "Attributes": {"name": "web1", "image": "busybox"}},
        "time": TS_S,
        "timeNano": TS_S * 10**9 + n,
    }
    return orjson.dumps(e) + b"\n"


class Engine:
    """Answers as scripted: ``version_ok``, and one body script per stream request."""

    def __init__(self) -> None:
        self.version_ok = True
        self.version_calls = 0
        self.events: list[Callable[[web.StreamResponse], Any]] = []
        self.logs: list[Callable[[web.StreamResponse], Any]] = []
        self.stats: list[Callable[[web.StreamResponse], Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def version(self, req: web.Request) -> web.StreamResponse:
        self.version_calls += 1
        if not self.version_ok:
            return web.Response(text="<html>this is no docker engine</html>")
        return web.json_response({"ApiVersion": "1.41", "MinAPIVersion": "1.24", "Version": "t"})

    async def containers(self, req: web.Request) -> web.StreamResponse:
        return web.json_response([{"Id": CID, "Names": ["/web1"]}])

    async def inspect(self, req: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "Id": CID,
                "Name": "/web1",
                "Image": "sha256:1",
                "State": {"Running": True},
                "Config": {"Image": "busybox", "Tty": False, "Labels": {}},
            }
        )

    async def _stream(
        self, req: web.Request, scripts: list[Callable[[web.StreamResponse], Any]]
    ) -> web.StreamResponse:
        self.requests.append((req.path, dict(req.query)))
        resp = web.StreamResponse()
        await resp.prepare(req)
        script = scripts.pop(0) if scripts else None
        if script is None:
            await asyncio.sleep(3600)  # an idle, healthy stream
        else:
            await script(resp)
        return resp

    async def events_(self, req: web.Request) -> web.StreamResponse:
        return await self._stream(req, self.events)

    async def logs_(self, req: web.Request) -> web.StreamResponse:
        return await self._stream(req, self.logs)

    async def stats_(self, req: web.Request) -> web.StreamResponse:
        return await self._stream(req, self.stats)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/version", self.version)
        app.router.add_get("/v1.41/containers/json", self.containers)
        app.router.add_get("/v1.41/containers/{id}/json", self.inspect)
        app.router.add_get("/v1.41/containers/{id}/logs", self.logs_)
        app.router.add_get("/v1.41/containers/{id}/stats", self.stats_)
        app.router.add_get("/v1.41/events", self.events_)
        return app


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, str]]:
    eng = Engine()
    runner = web.AppRunner(eng.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    sock = str(tmp_path / "engine.sock")
    site = web.UnixSite(runner, sock)
    await site.start()
    try:
        yield eng, f"unix://{sock}"
    finally:
        await runner.cleanup()


def cut_connection(data: bytes) -> Callable[[web.StreamResponse], Any]:
    async def script(resp: web.StreamResponse) -> None:
        await resp.write(data)
        await asyncio.sleep(0.05)
        assert resp._req is not None and resp._req.transport is not None
        resp._req.transport.close()  # gone without finishing the chunked body

    return script


def send(data: bytes) -> Callable[[web.StreamResponse], Any]:
    async def script(resp: web.StreamResponse) -> None:
        await resp.write(data)  # and the body ends normally

    return script


def config(host: str, tmp_path: Path, collectors: dict[str, Any]) -> dict[str, Any]:
    return {
        "data-dir": str(tmp_path / "data"),
        "collector": {
            n: {"docker-host": host, "reconnect-max": "100ms", **c} for n, c in collectors.items()
        },
        "handler": {"out": {"kind": "capture", "inputs": list(collectors)}},
    }


async def test_an_engine_answering_garbage_is_degraded_and_retried_until_it_answers(
    engine: tuple[Engine, str], tmp_path: Path
) -> None:
    eng, host = engine
    eng.version_ok = False
    async with Harness(config(host, tmp_path, {"docker-events": {"running": False}})) as h:
        p = h.plugin("docker-events")
        await wait_until(lambda: eng.version_calls >= 3)
        assert p.metrics.state == "degraded"
        assert "/version answered" in p.metrics.state_reason
        eng.version_ok = True
        await wait_until(lambda: p.metrics.state == "ok" and p.watcher.connections == 1)


async def test_garbage_events_are_counted_and_a_cut_stream_resumes_with_since(
    engine: tuple[Engine, str], tmp_path: Path
) -> None:
    eng, host = engine
    eng.events = [
        cut_connection(event("start", 1) + b"{not json}\n" + event("die", 2) + b'{"Type": "cont'),
        send(event("die", 2) + event("destroy", 3)),  # replays die: seen before, not twice
    ]
    async with Harness(config(host, tmp_path, {"docker-events": {"running": False}})) as h:
        out = h.captured("out")
        await wait_until(lambda: len(out) >= 3, timeout=10)
        p = h.plugin("docker-events")
        assert p.metrics.counter("rejected", reason="bad_event") >= 1
        await wait_until(lambda: len(eng.requests) >= 3)  # and it keeps following
    assert [m.fields["action"] for m in out] == ["start", "die", "destroy"]
    assert eng.requests[0][1].get("since") is None
    assert int(eng.requests[1][1]["since"]) == TS_S - 2
    assert out[0].container is not None and out[0].container.name == "web1"


async def test_a_log_stream_cut_inside_a_frame_resumes_without_loss_or_duplicate(
    engine: tuple[Engine, str], tmp_path: Path
) -> None:
    eng, host = engine
    one, two, three = frame(1, "one"), frame(2, "two"), frame(1, "three")
    eng.logs = [
        send(one + two[:5]),  # ends cleanly, but inside a frame header
        cut_connection(one + two + three[:12]),  # the connection drops inside a frame
        send(b"\x07garbage that is not a frame header"),
        send(one + two + three),
    ]
    cfg = config(host, tmp_path, {"docker-logs": {"from-beginning": True, "rescan": 0}})
    async with Harness(cfg) as h:
        out = h.captured("out")
        await wait_until(lambda: len(out) >= 3, timeout=10)
        p = h.plugin("docker-logs")
        await wait_until(lambda: sum(p.endswith("/logs") for p, _ in eng.requests) >= 5)
    assert [m.message for m in out] == ["one", "two", "three"]
    assert [m.fields["stream"] for m in out] == ["stdout", "stderr", "stdout"]
    assert p.metrics.counter("rejected", reason="protocol") >= 2
    assert p.metrics.counter("replayed") >= 2
    logs = [q for path, q in eng.requests if path.endswith("/logs")]
    assert logs[0].get("since") is None  # from the beginning
    assert all(q.get("since") == str(TS_S) for q in logs[1:])  # from the line emitted last
    assert p.metrics.errors == 0  # handled, not crashed


async def test_a_missing_socket_is_a_clear_degraded_state_not_a_failure(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/nothing-here.sock"
    cfg = config(host, tmp_path, {"docker-events": {}, "docker-logs": {}, "docker-stats": {}})
    async with Harness(cfg) as h:
        for name in ("docker-events", "docker-logs", "docker-stats"):
            p = h.plugin(name)
            await wait_until(lambda p=p: p.metrics.state == "degraded")
            assert (
                p.metrics.state_reason
                == f"docker engine unavailable: no Docker API socket at {host}"
            )
            await wait_until(lambda p=p: p.metrics.counter("engine_errors") >= 2)
            assert p.metrics.restarts == 0  # retried inside, not crashed


async def test_an_engine_on_tcp_is_reached_too(engine: tuple[Engine, str], tmp_path: Path) -> None:
    eng, _ = engine
    runner = web.AppRunner(eng.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    eng.events = [send(event("start", 1))]
    try:
        cfg = config(f"tcp://127.0.0.1:{port}", tmp_path, {"docker-events": {"running": False}})
        async with Harness(cfg) as h:
            out = h.captured("out")
            await wait_until(lambda: len(out) == 1)
            assert h.plugin("docker-events").client.api_version == "1.41"
        assert out[0].message == "web1: container.start"
    finally:
        await runner.cleanup()


async def test_stats_are_thinned_to_one_sample_per_interval_and_garbage_is_counted(
    engine: tuple[Engine, str], tmp_path: Path
) -> None:
    eng, host = engine
    sample = {"read": f"{TS[:-1]}.5Z", "cpu_stats": {"cpu_usage": {"total_usage": 1}}}
    burst = b"".join(orjson.dumps({**sample, "n": i}) + b"\n" for i in range(5))
    eng.stats = [send(burst + b"garbage\n" + b'{"message": "no such container"}\n')]
    cfg = config(host, tmp_path, {"docker-stats": {"interval": "1h", "rescan": 0}})
    async with Harness(cfg) as h:
        out = h.captured("out")
        p = h.plugin("docker-stats")
        await wait_until(lambda: len(out) == 1 and p.metrics.counter("thinned") == 4)
        await wait_until(lambda: p.metrics.counter("rejected", reason="bad_stats") >= 1)
    assert out[0].fields["stats"]["n"] == 4
    assert out[0].id == f"{CID}:stats:{TS[:-1]}.5Z"
    assert out[0].time == TS_S + 0.5


async def test_a_corrupt_checkpoint_is_set_aside_and_reading_starts_afresh(
    tmp_path: Path,
) -> None:
    cfg = config(f"unix://{tmp_path}/none.sock", tmp_path, {"docker-logs": {}})
    ckpt = tmp_path / "data" / "collector.docker-logs" / "positions.json"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_text('{"version": 1, "containers": {"abc": {"ts": 1, "n"')
    async with Harness(cfg) as h:
        p = h.plugin("docker-logs")
        assert p.committed == {}
        assert p.metrics.counter("rejected", reason="checkpoint") == 1
        # qframe ran before: a container running now is read from its first line
        assert p._resume("abc", initial=True) == (0, 0)
        assert p._resume("xyz", initial=True) == (0, 0)
    kept = [p.name for p in ckpt.parent.iterdir()]
    assert any(n.startswith("positions.json.bad-") for n in kept)


async def test_a_checkpoint_entry_that_is_not_a_position_is_counted_and_left_out(
    tmp_path: Path,
) -> None:
    cfg = config(f"unix://{tmp_path}/none.sock", tmp_path, {"docker-logs": {}})
    ckpt = tmp_path / "data" / "collector.docker-logs" / "positions.json"
    ckpt.parent.mkdir(parents=True)
    good = {"ts": 7_000_000_000, "n": 2}
    entries = {"abc": good, "def": {"ts": 1, "n": -1}}
    written = 1_700_000_000  # (the past)
    ckpt.write_bytes(orjson.dumps({"version": 1, "updated": written + 0.9, "containers": entries}))
    async with Harness(cfg) as h:
        p = h.plugin("docker-logs")
        assert p.committed == {"abc": (7_000_000_000, 2)}
        assert p.metrics.counter("rejected", reason="checkpoint") == 1
        assert p._resume("abc", initial=True) == (7_000_000_000, 2)
        assert p._resume("def", initial=True) == (0, 0)  # its entry rejected: first line
        # not in the checkpoint: what it wrote since the checkpoint was written is read
        assert p._resume("new", initial=True) == (written * 1_000_000_000, 0)
