"""tcp → log with a disk buffer: the log handler takes ``buffer`` like every handler.

Its destination fails first (the file is /dev/full: every write fails with ENOSPC), so the
lines stay in the buffer; SIGKILL; restarted with a writable file, every line is written
exactly once (a write failing half-way is resumed from the byte it stopped at)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from qframe.testing import wait_until

from .helpers import BufferedRun, buffer_kill_restart, drained


async def test_sigkill_while_writes_fail_then_every_line_once_in_the_file(
    tmp_path: Path,
) -> None:
    n = 20_000
    out = tmp_path / "out.jsonl"
    run = BufferedRun(tmp_path, {"kind": "log", "format": "json", "path": "/dev/full"})
    try:
        await buffer_kill_restart(run, n)
        await wait_until(
            lambda: "No space left" in run.out_health().get("reason", ""),
            timeout=30,
            what="the handler degraded by the failing writes",
        )
        assert out.exists() is False
        run.stop()
        run.reconfigure(path=str(out))
        run.start()
        await drained(run)
        assert run.out_health().get("state") == "ok"
        assert run.metric("qframe_delivered_total") == n
    finally:
        code = run.stop()
    assert code == 0, run.stderr()[-3000:]
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert Counter(d["message"] for d in docs) == {f"line {i}": 1 for i in range(n)}
    assert all(d.get("id") for d in docs)  # each line carries its stable id
    summaries = [ln for ln in run.stderr().splitlines() if "summary:" in ln]
    assert f"kept {n}, dropped 0, undelivered 0" in summaries[0]  # stopped while failing
    assert f"delivered {n}," in summaries[1]
