"""File kill loop into Elasticsearch: exactly once (held before issue #21).

An application writes; qframe (file → elasticsearch, an OpenSearch-compatible server) is
SIGKILLed again and again.  Lines read again after a kill carry the same deterministic
id, so the index must end with exactly one document per line.
"""

from __future__ import annotations

import random
import time

from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    file_collector,
    fill,
    os_tally,
    service,
    start_writer,
    wait_for,
)

NAME = "file_kill"
TITLE = "file → elasticsearch, 10 SIGKILLs while writing: one document per line"
DEFECT = ""


def run(ctx: Context) -> Result:
    from tests.services.osmem import Osmem

    res = Result(NAME)
    lines = ctx.scale(20_000, 4_000)
    kills = ctx.scale(10, 3)
    span = 3 + kills * 1.5
    log = ctx.tmp / "app.log"
    log.write_bytes(b"")
    server = service(Osmem.start)
    q = Qframe(
        ctx.tmp,
        {
            "tick": "200ms",
            "collector": {"files": file_collector(log)},
            "handler": {
                "es": {
                    "kind": "elasticsearch",
                    "inputs": ["files"],
                    "url": server.url,
                    "index": "chaos",
                    "batch-size": 500,
                    "retry-max": "2s",
                }
            },
        },
    )
    writer = start_writer(log, "k", lines, lines / span)
    rnd = random.Random(7)
    try:
        q.start()
        for _ in range(kills):
            time.sleep(rnd.uniform(1.0, 2.0))
            q.kill()
            q.start()
        wait_for(lambda: writer.poll() is not None, 120)
        wait_for(lambda: server.count("chaos") >= lines, ctx.scalef(90, 45), step=0.5)
        time.sleep(1)
        counts, docs = os_tally(server, "chaos", "k")
        fill(res, counts, lines)
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "%d SIGKILLs; %d documents for %d lines; qframe counted: %s",
            kills,
            docs,
            lines,
            describe_counts(q.counts()),
        )
        res.check("writer finished", writer.returncode == 0)
        res.check("qframe alive", q.alive())
        res.delivery_checks(allow_counted=False)
        res.check(
            f"exactly one document per line ({docs} for {lines})",
            docs == lines and res.duplicated == 0,
        )
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
        q.close()
        server.stop()
    return res
