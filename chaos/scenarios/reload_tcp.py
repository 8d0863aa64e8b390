"""(c) Valid reloads (SIGHUP) under tcp traffic (issue #21, defect 2).

Before the fix each reload dropped every tcp connection and the lines read ahead with
it (101 of 20,000 over 4 reloads), even when only a handler's ``queue-size`` changed.
Intended: an unchanged collector keeps running through a reload; a changed one hands its
sockets over.  Here the reloads alternate: a handler's ``queue-size`` only, then an
option of the tcp collector itself.  Two clients send 250 lines/s each throughout.
"""

from __future__ import annotations

import asyncio
import copy

from chaos.clients import send_lines, tally_file
from chaos.common import Context, Qframe, Result, describe_counts, fill, free_port, settle

NAME = "reload_tcp"
TITLE = "4 valid SIGHUP reloads under 500 lines/s of tcp (handler-only and tcp changes)"
DEFECT = "2"


def run(ctx: Context) -> Result:
    res = Result(NAME)
    port = free_port()
    out = ctx.tmp / "out.json"
    reloads = ctx.scale(4, 2)
    per_client = ctx.scale(10_000, 1_500)
    rate = 250.0
    duration = per_client / rate
    q = Qframe(
        ctx.tmp,
        {
            "tick": "200ms",
            "collector": {"tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port}},
            "handler": {
                "out": {
                    "kind": "log",
                    "inputs": ["tcp"],
                    "format": "json",
                    "path": str(out),
                    "queue-size": 10_000,
                }
            },
        },
    )
    done = []
    try:
        q.start()

        async def traffic() -> list[dict[str, int]]:
            senders = [
                asyncio.create_task(send_lines(port, tag, per_client, rate=rate, batch=25))
                for tag in ("a", "b")
            ]
            for k in range(reloads):
                await asyncio.sleep(duration / (reloads + 1))
                conf = copy.deepcopy(q.config)
                if k % 2 == 0:  # only a handler's queue-size
                    conf["handler"]["out"]["queue-size"] = 10_000 + 1000 * (k + 1)
                    what = "handler queue-size"
                else:  # the tcp collector's own options
                    conf["collector"]["tcp"]["max-line-bytes"] = f"{1024 + k}KiB"
                    what = "tcp max-line-bytes"
                q.write_config(conf)
                ok = await asyncio.to_thread(q.hup)
                done.append((what, ok))
                ctx.say("reload %d (%s): %s", k + 1, what, "done" if ok else "no log line")
            return list(await asyncio.gather(*senders))

        stats = asyncio.run(traffic())
        sent = sum(s["sent"] for s in stats)
        settle(lambda: sum(len(tally_file(out, t)) for t in ("a", "b")), sent, timeout=20)
        ta, tb = tally_file(out, "a"), tally_file(out, "b")
        fill(res, ta, per_client)
        a_deliv, a_dup = res.delivered or 0, res.duplicated or 0
        fill(res, tb, per_client)
        res.sent = sent
        res.delivered = a_deliv + (res.delivered or 0)
        res.duplicated = a_dup + (res.duplicated or 0)
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        reconnects = sum(s["reconnects"] for s in stats)
        closed = {
            f"{n[7:-6]}{{{ls.get('reason', '')}}}": v
            for n, ls, v in q.metrics()
            if v and n in ("qframe_closed_connections_total", "qframe_lost_bytes_total")
        }
        if closed:
            res.note("qframe reports: %s", ", ".join(f"{k} {v:g}" for k, v in closed.items()))
        res.note(
            "%d reloads (%s); clients reconnected %d times; qframe counted: %s",
            len(done),
            ", ".join(w for w, _ in done),
            reconnects,
            describe_counts(q.counts()),
        )
        res.check("every reload completed", all(ok for _, ok in done) and len(done) == reloads)
        res.check("qframe alive", q.alive())
        res.delivery_checks()
        res.check("no line duplicated", res.duplicated == 0)
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        q.close()
    return res
