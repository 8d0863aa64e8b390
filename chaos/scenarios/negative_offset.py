"""(e) A checkpoint whose offset is negative (issue #21, defect 4).

qframe reads a file and stops; the checkpoint's offset is edited to -500 (a broken disk,
a hand edit), lines are appended, qframe starts again.  Before the fix the file stalled
forever (and health said ok).  Intended: the bad record is rejected and counted, the file
read again (lines may repeat) and nothing is lost.
"""

from __future__ import annotations

import json
from pathlib import Path

from chaos.clients import tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    file_collector,
    fill,
    line,
    settle,
)

NAME = "negative_offset"
TITLE = 'checkpoint edited to "offset": -500 while qframe is stopped'
DEFECT = "4"


def append(path: Path, start: int, n: int) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line("n", i).encode() + b"\n" for i in range(start, start + n)))


def run(ctx: Context) -> Result:
    res = Result(NAME)
    n = ctx.scale(5_000, 2_000)
    log = ctx.tmp / "app.log"
    out = ctx.tmp / "out.json"
    append(log, 0, n)
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
    try:
        q.start()
        settle(lambda: len(tally_file(out, "n")), n, timeout=30)
        code = q.stop()
        res.check(f"first run stopped cleanly (exit {code})", code == 0)
        cp = q.data_dir / "collector.files" / "checkpoints.json"
        data = json.loads(cp.read_text())
        for r in data["files"]:
            r["offset"] = -500
        cp.write_text(json.dumps(data))
        append(log, n, n)
        q.start()
        settle(lambda: len(tally_file(out, "n")), 2 * n, timeout=20)
        fill(res, tally_file(out, "n"), 2 * n)
        health = q.status()
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "health after the restart: %s; qframe counted: %s", health, describe_counts(q.counts())
        )
        res.check("qframe alive", q.alive())
        res.delivery_checks()
        res.check("a stalled file is not reported ok", res.lost == 0 or health != "ok")
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        q.close()
    return res
