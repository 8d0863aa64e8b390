"""Bad input never stops the file collector: it is counted, and the rest flows on."""

from __future__ import annotations

import os
import random
from pathlib import Path

from .helpers import append, harness


async def test_binary_garbage_and_invalid_utf8_are_replaced_counted_and_passed(
    tmp_path: Path,
) -> None:
    f = tmp_path / "app.log"
    rnd = random.Random(1)
    garbage = bytes(rnd.randrange(256) for _ in range(4096)).replace(b"\n", b"")
    f.write_bytes(b"good 1\n" + garbage + b"\n" + b"caf\xc3\xa9 \xff\xfe ok\ngood 2\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        msgs = h.captured("out")
        coll = h.plugin("files")
        assert coll.metrics.counter("invalid_text") == 2
    assert msgs[0].message == "good 1" and msgs[3].message == "good 2"
    assert "\ufffd" in msgs[1].message
    assert msgs[2].message == "café \ufffd\ufffd ok"
    # offsets are byte offsets, whatever the characters
    assert msgs[2].fields["offset"] == 7 + len(garbage) + 1
    assert msgs[3].fields["offset"] == msgs[2].fields["offset"] + len(b"caf\xc3\xa9 \xff\xfe ok\n")


async def test_non_ascii_text_and_crlf_keep_byte_offsets(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes("żółw 1\r\nplain\r\nκόσμε\n".encode())
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        msgs = h.captured("out")
        assert h.plugin("files").metrics.counter("invalid_text") == 0
    assert [m.message for m in msgs] == ["żółw 1", "plain", "κόσμε"]
    assert [m.fields["offset"] for m in msgs] == [0, 11, 18]


async def test_a_50_mb_line_without_newline_is_cut_and_the_next_lines_flow(
    tmp_path: Path,
) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"before\n")
    with open(f, "ab") as w:
        block = b"x" * (1 << 20)
        for _ in range(50):
            w.write(block)
    async with harness(
        tmp_path, path=str(f), start_position="beginning", max_line_bytes="64KiB"
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2, timeout=30)
        coll = h.plugin("files")
        (tailer,) = coll.tailers.values()
        assert len(tailer.buf) == 0  # nothing of the long line is held in memory
        append(f, b"xxx\nafter\n")
        await h.wait_for(lambda: len(h.captured("out")) == 3, timeout=30)
        msgs = h.captured("out")
        (progress,) = coll.progress.values()
        await h.wait_for(lambda: progress.committed == f.stat().st_size, what="commit")
    assert msgs[0].message == "before"
    assert len(msgs[1].message) == 64 * 1024 and msgs[1].tags == ["_truncated"]
    assert msgs[1].fields["offset"] == 7
    assert msgs[2].message == "after" and msgs[2].fields["offset"] == 7 + 50 * (1 << 20) + 4
    assert coll.metrics.counter("truncated") == 1


async def test_a_long_terminated_line_is_cut_and_tagged(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a" * 100 + "\nshort\n" + "é" * 60 + "\n")
    async with harness(tmp_path, path=str(f), start_position="beginning", max_line_bytes=50) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        msgs = h.captured("out")
    assert msgs[0].message == "a" * 50 and msgs[0].tags == ["_truncated"]
    assert msgs[1].message == "short" and msgs[1].tags == []
    assert msgs[2].message == "é" * 25 and msgs[2].tags == ["_truncated"]


async def test_multiline_groups_lines_and_flushes_the_last_group_on_timeout(
    tmp_path: Path,
) -> None:
    f = tmp_path / "app.log"
    f.write_text("ERROR boom\n  at a\n  at b\nINFO ok\n  detail\n")
    ml = {"pattern": r"^\s", "match": "after", "timeout": "100ms"}
    async with harness(
        tmp_path, path=str(f), start_position="beginning", multiline=ml, poll_interval="1h"
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        msgs = h.captured("out")
        coll = h.plugin("files")
        (progress,) = coll.progress.values()
        await h.wait_for(lambda: progress.committed == f.stat().st_size, what="commit")
    assert [m.message for m in msgs] == ["ERROR boom\n  at a\n  at b", "INFO ok\n  detail"]
    assert [m.fields["offset"] for m in msgs] == [0, 25]
    assert msgs[0].fields["lines"] == 3


async def test_a_held_multiline_group_is_not_committed(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("A one\nA two\n  cont\n")
    ml = {"pattern": r"^\s", "timeout": "1h"}
    async with harness(tmp_path, path=str(f), start_position="beginning", multiline=ml) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
        (progress,) = h.plugin("files").progress.values()
        await h.wait_for(lambda: progress.committed == 6, what="commit before the held group")
        assert h.texts() == ["A one"]


async def test_files_that_vanish_or_are_not_regular_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "dir.log").mkdir()
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)
    (tmp_path / "real.log").write_text("real\n")
    gone = tmp_path / "gone.log"
    gone.write_text("gone\n")
    async with harness(tmp_path, path=str(tmp_path / "*.log"), start_position="beginning") as h:
        gone.unlink()
        await h.wait_for(lambda: "real" in h.texts())
        await h.wait_for(lambda: h.plugin("files")._scans >= 3, what="more scans")
        assert h.plugin("files").metrics.restarts == 0
        assert set(h.texts()) <= {"real", "gone"}
