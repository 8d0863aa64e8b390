"""Slowloris and thousands of idle connections (held before issue #21).

2,000 tcp connections that send nothing and 200 that trickle one byte every half second
(never a newline) stay open while a good client sends; qframe must keep serving every
line with its memory bounded.
"""

from __future__ import annotations

import asyncio
import contextlib

from chaos.clients import send_lines, tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    fill,
    free_port,
    settle,
)

NAME = "idle_conns"
TITLE = "tcp: 2,000 idle connections + 200 slowloris, a good client alongside"
DEFECT = ""

RSS_BOUND_MIB = 160


def run(ctx: Context) -> Result:
    res = Result(NAME)
    idle = ctx.scale(2000, 1000)
    slow = ctx.scale(200, 100)
    good = ctx.scale(20_000, 5_000)
    span = ctx.scalef(15.0, 5.0)
    port = free_port()
    out = ctx.tmp / "out.json"
    q = Qframe(
        ctx.tmp,
        {
            "collector": {"tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port}},
            "handler": {
                "out": {"kind": "log", "inputs": ["tcp"], "format": "json", "path": str(out)}
            },
        },
    )
    try:
        q.start()

        async def scenario() -> tuple[dict[str, int], int, int]:
            writers: list[asyncio.StreamWriter] = []
            for i in range(idle + slow):
                with contextlib.suppress(OSError):
                    writers.append((await asyncio.open_connection("127.0.0.1", port))[1])
                if i % 100 == 99:
                    await asyncio.sleep(0.01)
            opened = len(writers)
            stop = asyncio.Event()

            async def trickle(w: asyncio.StreamWriter) -> None:
                while not stop.is_set():
                    w.write(b"s")
                    await w.drain()
                    await asyncio.sleep(0.5)

            tricklers = [asyncio.create_task(trickle(w)) for w in writers[:slow]]
            stats = await send_lines(port, "i", good, rate=good / span)
            await asyncio.to_thread(settle, lambda: len(tally_file(out, "i")), good, 20)
            alive = sum(not w.transport.is_closing() for w in writers)
            stop.set()
            for t in tricklers:
                t.cancel()
            await asyncio.gather(*tricklers, return_exceptions=True)
            for w in writers:
                w.transport.abort()
            return stats, opened, alive

        stats, opened, alive = asyncio.run(scenario())
        fill(res, tally_file(out, "i"), stats["sent"])
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "%d connections open (%d trickling), %d still open at the end; qframe counted: %s",
            opened,
            slow,
            alive,
            describe_counts(q.counts()),
        )
        res.check(f"all {idle + slow} connections accepted", opened == idle + slow)
        res.check("qframe alive and answering", q.alive() and q.health() is not None)
        res.check(
            f"peak RSS {res.peak_rss_mib} MiB <= {RSS_BOUND_MIB} MiB",
            res.peak_rss_mib <= RSS_BOUND_MIB,
        )
        res.delivery_checks(allow_counted=False)
        res.check("no line duplicated", res.duplicated == 0)
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        q.close()
    return res
