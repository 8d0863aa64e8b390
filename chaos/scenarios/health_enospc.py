"""(g) Checkpoint writes failing with ENOSPC (issue #21, defect 6).

The data dir is a small tmpfs; while a file is being read the tmpfs is filled up, so
checkpoint writes fail.  Before the fix /health said "ok" while a crash would have
replayed everything since the last good checkpoint.  Intended: health turns "degraded"
(naming the reason) while writes fail and "ok" again when they succeed; no line is lost.
Needs root (mount); skipped otherwise.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from chaos.clients import tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    Skip,
    describe_counts,
    file_collector,
    fill,
    settle,
    start_writer,
    wait_for,
)

NAME = "health_enospc"
TITLE = "data dir full (ENOSPC) while reading: /health degraded, then ok again"
DEFECT = "6"


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        raise Skip("mounting a small tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise Skip(f"cannot mount a tmpfs: {r.stderr.strip()}")


def fill_up(path: Path) -> Path:
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def run(ctx: Context) -> Result:
    res = Result(NAME)
    lines = ctx.scale(12_000, 6_000)
    span = ctx.scalef(20.0, 9.0)
    data = ctx.tmp / "data"
    mount_tmpfs(data, "1m")
    log = ctx.tmp / "app.log"
    out = ctx.tmp / "out.json"
    log.write_bytes(b"")
    q = Qframe(
        ctx.tmp,
        {
            "tick": "100ms",
            "data-dir": str(data),
            "collector": {"files": file_collector(log)},
            "handler": {
                "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
            },
        },
    )
    writer = start_writer(log, "e", lines, lines / span)
    try:
        q.start()
        cp = data / "collector.files" / "checkpoints.json"
        res.check("checkpoint written", wait_for(cp.exists, 10))
        res.check("health ok before", wait_for(lambda: q.status() == "ok", 10))
        time.sleep(1)
        filler = fill_up(data)
        t0 = time.monotonic()
        degraded = wait_for(lambda: q.status() == "degraded", 10)
        took = time.monotonic() - t0
        reasons = q.not_ok()
        res.note("disk full: health %s after %.1f s (%s)", q.status(), took, reasons or "-")
        res.check("health degraded while checkpoint writes fail", degraded)
        time.sleep(2)
        filler.unlink()
        t0 = time.monotonic()
        ok_again = wait_for(lambda: q.status() == "ok", 10)
        res.note("space back: health %s after %.1f s", q.status(), time.monotonic() - t0)
        res.check("health ok again once writes succeed", ok_again)
        wait_for(lambda: writer.poll() is not None, 60)
        settle(lambda: len(tally_file(out, "e")), lines, timeout=30)
        fill(res, tally_file(out, "e"), lines)
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note("qframe counted: %s", describe_counts(q.counts()))
        res.check("qframe alive", q.alive())
        res.delivery_checks()
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
        q.close()
        subprocess.run(["umount", "-l", str(data)], check=False, capture_output=True)
    return res
