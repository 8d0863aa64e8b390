"""(d) Files rotated more than once while qframe is down, then a SIGKILL loop (defect 3).

``logrotate`` with ``create`` every few seconds while an application writes; qframe is
killed and stays down across 3 rotations, then killed again and again.  The collector
watches only the live name: what the rotated files still hold must be found through the
checkpoint.  Before the fix 6,005 of 30,000 lines were lost.  Duplicates are allowed
(the ``log`` file sink keeps what was written before a SIGKILL that was not yet
checkpointed); losses are not.
"""

from __future__ import annotations

import random
import threading
import time

from chaos.clients import tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    file_collector,
    fill,
    logrotate,
    settle,
    start_writer,
    wait_for,
)

NAME = "rotate_down"
TITLE = "logrotate create every few s, qframe down across 3 rotations, then 10 SIGKILLs"
DEFECT = "3"


def run(ctx: Context) -> Result:
    res = Result(NAME)
    lines = ctx.scale(30_000, 8_000)
    period = ctx.scalef(5.0, 2.0)  # seconds between rotations
    down = 3.6 * period  # 3 rotations while qframe is down
    kills = ctx.scale(10, 3)
    span = 4 + down + kills * 1.5 + 3
    log = ctx.tmp / "app.log"
    out = ctx.tmp / "out.json"
    log.write_bytes(b"")
    q = Qframe(
        ctx.tmp,
        {
            "tick": "100ms",
            "collector": {"files": file_collector(log)},
            "handler": {
                "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
            },
        },
    )
    rotations = [0]
    stop = threading.Event()

    def rotate_loop() -> None:
        while not stop.wait(period):
            logrotate(ctx.tmp, log)
            rotations[0] += 1

    writer = start_writer(log, "f", lines, lines / span)
    rotator = threading.Thread(target=rotate_loop, daemon=True)
    rnd = random.Random(21)
    try:
        q.start()
        rotator.start()
        time.sleep(4)
        q.kill()
        r0 = rotations[0]
        time.sleep(down)
        ctx.say("down %.0fs across %d rotations", down, rotations[0] - r0)
        res.note("down %.0f s across %d rotations", down, rotations[0] - r0)
        q.start()
        for _ in range(kills):
            time.sleep(rnd.uniform(0.8, 2.0))
            q.kill()
            q.start()
        wait_for(lambda: writer.poll() is not None, 120)
        stop.set()
        settle(lambda: len(tally_file(out, "f")), lines, timeout=60)
        fill(res, tally_file(out, "f"), lines)
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "%d rotations, %d SIGKILLs; qframe counted: %s",
            rotations[0],
            kills + 1,
            describe_counts(q.counts()),
        )
        res.check("writer finished", writer.returncode == 0)
        res.check("qframe alive", q.alive())
        res.delivery_checks()
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        stop.set()
        if writer.poll() is None:
            writer.kill()
        writer.wait()
        q.close()
    return res
