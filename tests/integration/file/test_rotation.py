"""The file collector against the real logrotate while a writer appends at speed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from qframe.testing import Harness, wait_until

from .helpers import logrotate, logrotate_conf, numbers, on_disk, start_writer

LINES = 60_000


def pipeline(tmp: Path, path: Path) -> Harness:
    return Harness(
        {
            "tick": "100ms",
            "data-dir": str(tmp / "data"),
            "collector": {
                "files": {
                    "kind": "file",
                    "path": str(path),
                    "start-position": "beginning",
                    "poll-interval": "10ms",
                    "scan-interval": "200ms",
                    "close-inactive": "5s",
                }
            },
            "handler": {"out": {"kind": "capture", "inputs": ["files"]}},
        }
    )


async def rotate_while_writing(tmp: Path, mode: str) -> tuple[list[int], Path]:
    log = tmp / "app.log"
    log.write_bytes(b"")
    conf = logrotate_conf(tmp, log, mode)
    async with pipeline(tmp, log) as h:
        writer = start_writer(log, LINES, 200, 0.004, "reopen" if mode == "create" else "append")
        try:
            for share in (0.2, 0.45, 0.7):
                await h.wait_for(
                    lambda share=share: len(h.captured("out")) >= LINES * share,
                    timeout=60,
                    what=f"{share:.0%} of the lines",
                )
                await logrotate(tmp, conf)
            await wait_until(lambda: writer.poll() is not None, timeout=60, what="writer done")
            assert writer.returncode == 0
            rotated = sorted(tmp.glob("app.log.*"))
            assert len(rotated) == 3, rotated
            if mode == "create":
                await h.wait_for(lambda: len(h.captured("out")) >= LINES, timeout=60)
            else:
                present = on_disk([log, *rotated])
                await h.wait_for(
                    lambda: present <= set(numbers([m.message for m in h.captured("out")])),
                    timeout=60,
                    what="every line still on disk",
                )
            got = numbers([m.message for m in h.captured("out")])
        finally:
            if writer.poll() is None:
                writer.kill()
            writer.wait()
    return got, log


async def test_logrotate_create_while_writing_delivers_every_line_once(tmp_path: Path) -> None:
    got, _ = await rotate_while_writing(tmp_path, "create")
    dups = [n for n, c in Counter(got).items() if c > 1]
    assert dups == []
    assert sorted(got) == list(range(LINES))


async def test_logrotate_copytruncate_while_writing_delivers_every_line_on_disk_once(
    tmp_path: Path,
) -> None:
    got, log = await rotate_while_writing(tmp_path, "copytruncate")
    dups = [n for n, c in Counter(got).items() if c > 1]
    assert dups == []
    rotated = sorted(tmp_path.glob("app.log.*"))
    present = on_disk([log, *rotated])
    # every line that exists in the copies or the live file was delivered; the only lines
    # allowed to be missing are the ones logrotate itself destroyed (written between its
    # copy and its truncate, and gone from every file)
    assert present <= set(got)
    lost_by_logrotate = set(range(LINES)) - present
    assert set(range(LINES)) - set(got) <= lost_by_logrotate
