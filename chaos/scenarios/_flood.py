"""The partial-data floods (defect 1) over tcp lines and GELF-TCP frames: one shape."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chaos.clients import Flood, send_lines, tally_file
from chaos.common import Context, Qframe, Result, describe_counts, fill, free_port, settle

RSS_BOUND_MIB = 256


def flood_scenario(
    ctx: Context,
    res: Result,
    collector: dict[str, Any],
    frame: str,
    conns: int,
    per_conn: int,
    good: int,
) -> Result:
    port = free_port()
    out = ctx.tmp / "out.json"
    key = "bind-port" if collector["kind"] == "tcp" else "port"
    q = Qframe(
        ctx.tmp,
        {
            "collector": {"in": {**collector, "bind-host": "127.0.0.1", key: port}},
            "handler": {
                "out": {"kind": "log", "inputs": ["in"], "format": "json", "path": str(out)}
            },
        },
    )
    flood = Flood(port, conns, per_conn)
    try:
        q.start()
        base = q.rss_mib()

        async def traffic() -> tuple[dict[str, int], int, bool]:
            # the good client sends through the whole flood, at a steady pace
            sender = asyncio.create_task(
                send_lines(port, "good", good, rate=good / ctx.scalef(10, 5), frame=frame)
            )
            await asyncio.sleep(1)
            t0 = time.monotonic()
            await flood.run()
            ctx.say(
                "flood: %d opened, %d cut, %d stalled in %.1fs",
                flood.opened,
                flood.cut,
                flood.stalled,
                time.monotonic() - t0,
            )
            await asyncio.sleep(2)  # held: the unfinished data sits in qframe
            stats = await sender
            got = await asyncio.to_thread(
                settle, lambda: sum(tally_file(out, "good").values()), good, 30
            )
            ctx.say("delivered %d", got)
            open_after = flood.still_open()
            alive = q.alive() and q.health() is not None
            flood.close()
            return stats, open_after, alive

        stats, open_after, alive = asyncio.run(traffic())
        counts = q.counts()
        res.counted = q.counted("in", ("dropped", "rejected"))
        fill(res, tally_file(out, "good"), stats["sent"])
        res.peak_rss_mib = q.peak_rss_mib
        mib = flood.bytes / (1 << 20)
        res.note(
            "%d hostile connections, %.0f MiB without a terminator: %d cut by qframe, "
            "%d paused, %d still open at the end; RSS at start %.0f MiB",
            flood.opened,
            mib,
            flood.cut,
            flood.stalled,
            open_after,
            base,
        )
        res.note("qframe counted: %s", describe_counts(counts))
        extra = [
            (n[7:], v)
            for n, _, v in q.metrics()
            if v and any(w in n for w in ("cut", "evict", "discard", "buffered_peak"))
        ]
        if extra:
            res.note(
                "qframe reports: %s",
                ", ".join(
                    f"{n} {v / (1 << 20):.0f} MiB" if "bytes" in n else f"{n} {v:g}"
                    for n, v in extra
                ),
            )
        res.check("qframe alive and answering", alive)
        res.check(
            f"peak RSS {res.peak_rss_mib} MiB <= {RSS_BOUND_MIB} MiB",
            res.peak_rss_mib <= RSS_BOUND_MIB,
        )
        res.check(f"every good line delivered ({res.delivered}/{res.sent})", res.lost == 0)
        res.check("no good line duplicated", res.duplicated == 0)
        res.check("good client never cut", stats["reconnects"] == 0)
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        q.close()
    return res
