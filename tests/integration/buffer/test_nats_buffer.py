"""tcp → nats handler with a disk buffer: SIGKILL while NATS is down, then every line in
the JetStream stream exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import nats
import nats.errors

from qframe.broker import wire
from tests.services.nats import NatsServer

from .helpers import BufferedRun, buffer_kill_restart, drained


async def stream_lines(url: str) -> Counter[str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe("qframe.>", stream="QFRAME")
        got: Counter[str] = Counter()
        while True:
            try:
                msgs = await sub.fetch(100, timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                return got
            for m in msgs:
                got.update(str(x.message) for x in wire.decode(m.data))
                await m.ack()
    finally:
        await nc.close()


async def test_sigkill_with_nats_down_then_every_line_once_in_the_stream(tmp_path: Path) -> None:
    n = 50_000
    server = NatsServer.start()
    server.stop()
    run = BufferedRun(tmp_path, {"kind": "nats", "url": server.url})
    try:
        await buffer_kill_restart(run, n)
        server.start_again()
        await drained(run)
        got = await stream_lines(server.url)
        assert got == {f"line {i}": 1 for i in range(n)}
    finally:
        code = run.stop()
        server.close()
    assert code == 0, run.stderr()[-3000:]
