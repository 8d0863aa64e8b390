"""A stop of the file collector that comes in the same loop turn as a wake of its scan loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from .helpers import harness


@pytest.mark.parametrize("turns", range(4))
async def test_a_stop_as_the_scan_loop_is_woken_ends_the_collector(
    tmp_path: Path, turns: int
) -> None:
    """Seen in the full suite: `collector pods did not stop within 10.0s (waiting in
    _run_collector -> run (collector.py) -> wait_for)`.  On Python 3.11, asyncio.wait_for
    returns instead of raising when its task is cancelled in the loop turn that its awaited
    event is set (gh-86296): the scan loop swallowed the stop and went on.  The wake and the
    cancellation are put ``turns`` loop turns apart, to hit each step of that window."""
    (tmp_path / "a.log").write_text("a\n")
    async with harness(
        tmp_path, path=str(tmp_path / "*.log"), scan_interval="1h", start_position="beginning"
    ) as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: coll._scans >= 1 and len(h.captured("out")) == 1)
        main = h.pipeline.find("files")._main
        coll.wake_scan()
        for _ in range(turns):
            await asyncio.sleep(0)
        main.cancel()
        done, _ = await asyncio.wait({main}, timeout=60)
        assert main in done, f"the scan loop went on after its cancellation: {main}"
