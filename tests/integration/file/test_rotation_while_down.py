"""Several ``logrotate`` runs (``create``) while ``qframe run`` is down: no generation is lost.

The globs name only the live file: the generations rotated while qframe was down are
found in the directory by identity and fingerprint (issue #21, defect 3).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

from qframe.testing import wait_until

from .helpers import (
    QframeRun,
    delivered,
    file_to_json,
    logrotate,
    logrotate_conf,
    start_writer,
)

LINES = 20_000


async def rotate_while_down(
    tmp: Path, log: Path, conf: Path, rotations: int, writer: subprocess.Popen[bytes]
) -> None:
    """``rotations`` logrotate runs, each after the writer wrote to the new file.

    A writer that already finished (a loaded machine can be slower at the kills and
    rotations than the writer at its 20,000 lines) writes no more: the rotation then
    goes on with an empty file (``ifempty``), which must not lose a line either.
    """
    for _ in range(rotations):
        await wait_until(
            lambda: (log.exists() and log.stat().st_size > 0) or writer.poll() is not None,
            what="lines written",
        )
        await logrotate(tmp, conf)


async def test_three_rotations_while_stopped_deliver_every_line_exactly_once(
    tmp_path: Path,
) -> None:
    log, out = tmp_path / "app.log", tmp_path / "out.json"
    log.write_bytes(b"")
    conf = logrotate_conf(tmp_path, log, "create")
    run = QframeRun(tmp_path, file_to_json(tmp_path, log, out))
    writer = start_writer(log, LINES, 50, 0.01, "reopen")  # about 5,000 lines/s
    try:
        run.start()
        await wait_until(lambda: len(delivered(out)) >= 1000, timeout=60, what="1000 lines")
        assert run.stop() == 0, run.stderr()[-3000:]
        await rotate_while_down(tmp_path, log, conf, 3, writer)
        run.start()
        await wait_until(lambda: writer.poll() is not None, timeout=60, what="writer done")
        assert writer.returncode == 0
        await wait_until(lambda: len(delivered(out)) >= LINES, timeout=60, what="every line")
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
        code = run.stop()
    assert code == 0, run.stderr()[-3000:]
    got = delivered(out)
    assert [n for n, c in Counter(got).items() if c > 1] == []
    assert sorted(got) == list(range(LINES))
    assert len(list(tmp_path.glob("app.log.*"))) == 3
    assert "was rotated while not watched" in run.stderr()


async def test_sigkills_with_rotations_while_down_lose_no_line(tmp_path: Path) -> None:
    log, out = tmp_path / "app.log", tmp_path / "out.json"
    log.write_bytes(b"")
    conf = logrotate_conf(tmp_path, log, "create")
    run = QframeRun(tmp_path, file_to_json(tmp_path, log, out))
    writer = start_writer(log, LINES, 50, 0.01, "reopen")
    checkpoints = tmp_path / "data/collector.files/checkpoints.json"
    try:
        run.start()
        for kill in range(3):
            await wait_until(
                lambda kill=kill: len(delivered(out)) >= 1000 * (kill + 1),
                timeout=60,
                what=f"lines before kill {kill + 1}",
            )
            await wait_until(checkpoints.exists, what="a checkpoint")
            run.kill()
            await rotate_while_down(tmp_path, log, conf, 2, writer)
            run.start()
        await wait_until(lambda: writer.poll() is not None, timeout=60, what="writer done")
        await wait_until(
            lambda: set(delivered(out)) == set(range(LINES)), timeout=60, what="every line"
        )
        assert run.alive()
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.wait()
        code = run.stop()
    assert code == 0, run.stderr()[-3000:]
    assert len(list(tmp_path.glob("app.log.*"))) == 6
    # duplicates (lines in flight at a kill) are bounded
    assert len(delivered(out)) - LINES < LINES // 2
    assert os.path.getsize(out) > 0
