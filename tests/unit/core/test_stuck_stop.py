"""A collector whose stop never returns cannot keep qframe from shutting down."""

from __future__ import annotations

import asyncio
import logging

import pytest

from qframe import Collector
from qframe.testing import Harness


class StuckCollector(Collector):
    """Never ends; its stop() waits for something that never happens."""

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        await asyncio.Event().wait()  # the bug this guards against: a stop that never returns


async def test_a_collector_whose_stop_hangs_is_cancelled_after_the_shutdown_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {
        "collector": {"stuck": {}, "ok": {"kind": "list", "messages": ["a", "b"], "linger": True}},
        "handler": {"out": {"kind": "capture", "inputs": ["stuck", "ok"]}},
    }
    h = Harness(config, extra={("collector", "stuck"): StuckCollector}, shutdown_timeout=0.5)
    async with h:
        await h.wait_for(
            lambda: sorted(h.texts()) == ["a", "b"], what="the other collector's lines"
        )
        caplog.set_level(logging.ERROR, logger="qframe.runtime")
        await asyncio.wait_for(h.pipeline.shutdown(), 10)  # before: never returned
    assert h.pipeline.done.is_set()
    stuck = [r.getMessage() for r in caplog.records if "did not stop within" in r.getMessage()]
    assert len(stuck) == 1
    assert stuck[0].startswith("collector stuck did not stop within 0.5s (waiting in ")
    assert "stop (test_stuck_stop.py" in stuck[0]
