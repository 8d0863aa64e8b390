"""tcp → elasticsearch (osmem) with a disk buffer: a SIGKILL while the destination is down
loses nothing, and every line lands exactly once."""

from __future__ import annotations

from pathlib import Path

from tests.services import free_port
from tests.services.osmem import Osmem

from .helpers import BufferedRun, buffer_kill_restart, drained, os_lines


async def test_sigkill_with_destination_down_then_everything_once(tmp_path: Path) -> None:
    n = 50_000
    port = free_port()
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": f"http://127.0.0.1:{port}"})
    server = None
    try:
        await buffer_kill_restart(run, n)
        assert run.out_health().get("disk_buffer", {}).get("events") == n
        server = Osmem.start(port=port)
        await drained(run)
        got, total = os_lines(server)
        assert total == n
        assert got == {f"line {i}": 1 for i in range(n)}
        assert run.metric("qframe_disk_buffer_corrupt_total") == 0
    finally:
        code = run.stop()
        if server is not None:
            server.stop()
    assert code == 0, run.stderr()[-3000:]
    assert "disk buffer" in run.stderr()  # the backlog reported at start
