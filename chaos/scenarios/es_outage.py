"""Elasticsearch outage under tcp traffic: exactly once after recovery (held before #21).

tcp → elasticsearch through a proxy that is cut for 30 s (every connection closed, new
ones refused, as a dead cluster) and restored.  The handler retries (``retry-max: 2s``
so recovery is noticed quickly), backpressure holds the sender meanwhile, and the index
must end with exactly one document per line.
"""

from __future__ import annotations

import asyncio
import time

from chaos.clients import send_lines
from chaos.common import (
    Context,
    Qframe,
    Result,
    await_for,
    describe_counts,
    fill,
    free_port,
    os_tally,
    service,
    wait_for,
)

NAME = "es_outage"
TITLE = "tcp → elasticsearch, the cluster unreachable for 30 s, then back: exactly once"
DEFECT = ""


def run(ctx: Context) -> Result:
    from tests.services.osmem import Osmem
    from tests.services.tcpproxy import TcpProxy

    res = Result(NAME)
    lines = ctx.scale(10_000, 2_000)
    outage = ctx.scalef(30.0, 6.0)
    rate = lines / (outage + 10)
    port = free_port()
    server = service(Osmem.start)
    q: Qframe | None = None

    async def scenario() -> dict[str, int]:
        nonlocal q
        proxy = await TcpProxy.start(server.port)
        try:
            q = Qframe(
                ctx.tmp,
                {
                    "tick": "200ms",
                    "collector": {
                        "tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port}
                    },
                    "handler": {
                        "es": {
                            "kind": "elasticsearch",
                            "inputs": ["tcp"],
                            "url": f"http://127.0.0.1:{proxy.port}",
                            "index": "chaos",
                            "batch-size": 500,
                            "retry-max": "2s",
                        }
                    },
                },
            )
            await asyncio.to_thread(q.start)
            sender = asyncio.create_task(send_lines(port, "o", lines, rate=rate, batch=20))
            await asyncio.sleep(3)
            await proxy.cut()
            t0 = time.monotonic()
            await asyncio.sleep(outage / 2)
            res.note(
                "during the outage: %s (%s)",
                await asyncio.to_thread(q.status),
                await asyncio.to_thread(q.not_ok),
            )
            await asyncio.sleep(outage - (time.monotonic() - t0))
            had = await asyncio.to_thread(server.count, "chaos")
            await proxy.restore()
            back = time.monotonic()
            await await_for(lambda: server.count("chaos") > had, 30, 0.2)
            first = time.monotonic() - back
            stats = await sender
            ctx.say("sender done %.1fs after the outage", time.monotonic() - back)
            await await_for(lambda: server.count("chaos") >= lines, ctx.scalef(90, 45), 0.5)
            res.note(
                "after the outage: the first new document in %.1f s, the last in %.0f s",
                first,
                time.monotonic() - back,
            )
            # while the proxy still stands (closing it is the next outage)
            healthy = await asyncio.to_thread(wait_for, lambda: q.status() == "ok", 15)
            if not healthy:
                res.note("still not ok 15 s after every document was indexed: %s", q.not_ok())
            res.check("health ok again after the outage", healthy)
            return stats
        finally:
            await proxy.close()

    try:
        stats = asyncio.run(scenario())
        assert q is not None
        time.sleep(1)
        counts, docs = os_tally(server, "chaos", "o")
        fill(res, counts, stats["sent"])
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "outage %.0f s; %d documents for %d lines; qframe counted: %s",
            outage,
            docs,
            stats["sent"],
            describe_counts(q.counts()),
        )
        res.check("qframe alive", q.alive())
        res.delivery_checks(allow_counted=False)
        res.check(
            f"exactly one document per line ({docs} for {stats['sent']})",
            docs == stats["sent"] and res.duplicated == 0,
        )
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        if q is not None:
            q.close()
        server.stop()
    return res
