"""tcp → influxdb with a disk buffer: SIGKILL while influxd is down, every line a point.

All the lines of one tcp read share one time: without distinct times, points of one
series and time would overwrite each other, and the count below would fall short.
"""

from __future__ import annotations

from pathlib import Path

from tests.services.influxdb import Influxd

from .helpers import BufferedRun, buffer_kill_restart, drained


def points(server: Influxd) -> int:
    rows = server.query('SELECT count("message") FROM "logs"', db="buf")
    return int(rows[0]["values"][0][1]) if rows else 0


async def test_sigkill_with_influxdb_down_then_every_line_a_point(tmp_path: Path) -> None:
    n = 50_000
    server = Influxd.start()
    server.stop()
    handler = {
        "kind": "influxdb",
        "url": server.url,
        "database": "buf",
        "measurement": "logs",
        "precision": "ns",
    }
    run = BufferedRun(tmp_path, handler)
    try:
        await buffer_kill_restart(run, n)
        server.start_again()
        await drained(run)
        assert points(server) == n
        assert run.metric("qframe_delivered_total") == n
    finally:
        code = run.stop()
        server.close()
    assert code == 0, run.stderr()[-3000:]
