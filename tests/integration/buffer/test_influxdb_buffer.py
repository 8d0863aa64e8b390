"""tcp → influxdb with a disk buffer: SIGKILL while influxd is down, every line a point.

All the lines of one tcp read share one time: without distinct times, points of one
series and time would overwrite each other, and the count below would fall short.
"""

from __future__ import annotations

from pathlib import Path

from qframe.testing import wait_until
from tests.services.influxdb import Influxd

from .helpers import BufferedRun, send


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
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=30, what="qframe up")
        send(run.tcp_port, range(n))
        await wait_until(
            lambda: run.metric("qframe_disk_buffer_events") >= n,
            timeout=60,
            what="every line in the disk buffer",
        )
        run.kill()
        run.start()
        await wait_until(lambda: run.metric("qframe_disk_buffer_events") == n, timeout=30)
        server.start_again()
        await wait_until(
            lambda: run.metric("qframe_disk_buffer_events") == 0,
            timeout=120,
            what="the backlog drained",
        )
        assert points(server) == n
        assert run.metric("qframe_delivered_total") == n
    finally:
        code = run.stop()
        server.close()
    assert code == 0, run.stderr()[-3000:]
