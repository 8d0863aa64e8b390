"""docker-logs: positions that cannot be written (a full tmpfs) make the plugin degraded
until a write succeeds (issue #21, defect 6)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from qframe.testing import Harness, wait_until
from tests.services.tmpfs import fill_up, small_tmpfs

from .test_bad_engine import CID, Engine, config, engine, frame

__all__ = ["engine"]  # the fixture


def after(gate: asyncio.Event, data: bytes) -> Callable[[web.StreamResponse], Any]:
    async def script(resp: web.StreamResponse) -> None:
        await gate.wait()
        await resp.write(data)
        await asyncio.sleep(3600)  # then idle

    return script


async def test_positions_that_cannot_be_written_make_docker_logs_degraded(
    engine: tuple[Engine, str], tmp_path: Path
) -> None:
    eng, host = engine
    gate = asyncio.Event()
    eng.logs = [after(gate, frame(1, "one"))]
    with small_tmpfs(tmp_path / "data") as data:
        cfg = config(host, tmp_path, {"docker-logs": {"from-beginning": True, "rescan": 0}})
        cfg["tick"] = "50ms"
        async with Harness(cfg) as h:
            p = h.plugin("docker-logs")
            await wait_until(lambda: any(q.endswith("/logs") for q, _ in eng.requests))
            assert p.metrics.state == "ok"
            filler = fill_up(data)
            gate.set()
            await wait_until(lambda: p.metrics.state == "degraded", what="degraded")
            assert "No space left on device" in p.metrics.state_reason
            assert p.metrics.counter("rejected", reason="checkpoint_error") >= 1
            assert [m.message for m in h.captured("out")] == ["one"]
            filler.unlink()
            await wait_until(lambda: p.metrics.state == "ok", what="ok once written")
        saved = json.loads((data / "collector.docker-logs" / "positions.json").read_text())
    assert saved["containers"][CID]["n"] == 1
