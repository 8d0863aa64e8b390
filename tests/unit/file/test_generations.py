"""Rotations qframe did not see (while stopped, or several between two looks): every
generation is found in the directory by identity and fingerprint and read once."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

from qframe.plugins.collectors.file.rotation import siblings
from tests.conftest import Lines

from .helpers import append, checkpoint, harness


def rotate(log: Path, keep: int = 20, compress: bool = False) -> None:
    """What ``logrotate`` does with ``create`` (and ``compress``, no ``delaycompress``)."""
    d = log.parent
    for i in range(keep - 1, 0, -1):
        for ext in ("", ".gz"):
            src = d / f"{log.name}.{i}{ext}"
            if src.exists():
                os.rename(src, d / f"{log.name}.{i + 1}{ext}")
    if log.exists():
        os.rename(log, d / f"{log.name}.1")
    log.write_bytes(b"")
    if compress:
        one = d / f"{log.name}.1"
        (d / f"{log.name}.1.gz").write_bytes(gzip.compress(one.read_bytes()))
        one.unlink()


def test_siblings_are_the_rotated_names_only(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    names = [
        "app.log",
        "app.log.1",
        "app.log.2.gz",
        "app.log-20261205",
        "app.logger",
        "app.log.old",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"x\n")
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress(b"x\n"))
    gens = siblings(str(log), 16, set())
    try:
        got = {os.path.basename(g.path): (g.compressed, g.head, g.size) for g in gens}
    finally:
        for g in gens:
            g.close()
    assert got == {
        "app.log.1": (False, b"x\n", 2),
        "app.log.2.gz": (True, b"x\n", 2),
        "app.log-20261205": (False, b"x\n", 2),
    }


async def test_three_rotations_while_stopped_read_every_generation_once_in_order(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\na2\n")
    async with harness(tmp_path, path=str(log), start_position="beginning") as h:
        await h.wait_for(lambda: h.texts() == ["a1", "a2"])
    append(log, "a3\n")
    for gen in "bcd":  # three rotations while stopped: a -> .3, b -> .2, c -> .1, d live
        rotate(log)
        append(log, f"{gen}1\n{gen}2\n")
    async with harness(tmp_path, path=str(log)) as h:
        await h.wait_for(lambda: len(h.texts()) == 7, what="the rest of a, b, c and d")
        coll = h.plugin("files")
        assert h.texts() == ["a3", "b1", "b2", "c1", "c2", "d1", "d2"]
        assert coll.metrics.counter("files", event="recovered") == 3
        assert coll.metrics.counter("files_lost", reason="deleted") == 0
        append(log, "d3\n")
        await h.wait_for(lambda: len(h.texts()) == 8)
        paths = [m.fields["path"] for m in h.captured("out")]
    assert paths[:5] == [str(log) + s for s in (".3", ".2", ".2", ".1", ".1")]
    assert h.texts()[-1] == "d3"
    # the generations' records belong to the watched path: the next start reads nothing again
    async with harness(tmp_path, path=str(log)) as h:
        append(log, "d4\n")
        await h.wait_for(lambda: h.texts() == ["d4"])
    assert checkpoint(tmp_path)[str(log)] > 0


async def test_a_glob_that_matches_the_rotated_names_reads_them_once(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    pattern = str(tmp_path / "app.log*")
    async with harness(tmp_path, path=pattern, start_position="beginning") as h:
        await h.wait_for(lambda: h.texts() == ["a1"])
    append(log, "a2\n")
    for gen in "bc":
        rotate(log)
        append(log, f"{gen}1\n")
    async with harness(tmp_path, path=pattern) as h:
        await h.wait_for(lambda: len(h.texts()) == 3)
        await h.wait_for(lambda: len(h.plugin("files").tailers) == 3)
        assert sorted(h.texts()) == ["a2", "b1", "c1"]


async def test_generations_lost_to_compression_or_deletion_are_counted_and_logged(
    tmp_path: Path, daemon_log: Lines
) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    async with harness(tmp_path, path=str(log), start_position="beginning") as h:
        await h.wait_for(lambda: h.texts() == ["a1"])
    append(log, "a2 never read\n")  # 14 bytes after the checkpoint
    rotate(log, compress=True)  # a -> app.log.1.gz
    append(log, "b1 never read\n")
    rotate(log, compress=True)  # a -> .2.gz, b -> .1.gz
    append(log, "c1\n")
    rotate(log)  # c -> .1 (plain), d live
    append(log, "d1\n")
    async with harness(tmp_path, path=str(log)) as h:
        await h.wait_for(lambda: len(h.texts()) == 2)
        m = h.plugin("files").metrics
        assert h.texts() == ["c1", "d1"]
        assert m.counter("files_lost", reason="compressed") == 2
        await h.wait_for(lambda: m.counter("lost_bytes", reason="compressed") == 14 + 14)
        assert m.dropped == {"rotated_away": 2}
    lost = [t for t in daemon_log.texts(logging.WARNING) if "lost" in t]
    assert any("app.log.3.gz" in t and "1 lines (14 bytes) after offset 3" in t for t in lost)


async def test_a_deleted_generation_with_bytes_known_unread_is_counted(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    slow = {"poll_interval": "1h", "inotify": False, "tick": "1h"}
    async with harness(tmp_path, path=str(log), start_position="beginning", **slow) as h:
        await h.wait_for(lambda: h.texts() == ["a1"])
        append(log, "a2 never read\n")  # the tailer sleeps: not read
        await h.plugin("files").on_tick()  # the size goes into the checkpoint
    rotate(log)
    os.unlink(tmp_path / "app.log.1")  # rotate 0: the old generation is deleted
    append(log, "b1\n")
    async with harness(tmp_path, path=str(log)) as h:
        await h.wait_for(lambda: h.texts() == ["b1"])
        m = h.plugin("files").metrics
        assert m.counter("files_lost", reason="deleted") == 1
        assert m.counter("lost_bytes", reason="deleted") == 14


async def test_two_rotations_between_two_looks_at_runtime_lose_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    slow = {"poll_interval": "1h", "scan_interval": "1h", "inotify": False}
    async with harness(tmp_path, path=str(log), start_position="beginning", **slow) as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: h.texts() == ["a1"])
        for gen in "bc":  # b is created, written and rotated away before any look
            rotate(log)
            append(log, f"{gen}1\n")
        coll.wake_scan()
        await h.wait_for(lambda: len(h.texts()) == 3, what="b1 and c1")
        assert sorted(h.texts()) == ["a1", "b1", "c1"]
        assert coll.metrics.counter("files", event="recovered") == 1


def copytruncate(log: Path, keep: int = 20) -> None:
    """What ``logrotate`` does with ``copytruncate``."""
    d = log.parent
    for i in range(keep - 1, 0, -1):
        src = d / f"{log.name}.{i}"
        if src.exists():
            os.rename(src, d / f"{log.name}.{i + 1}")
    (d / f"{log.name}.1").write_bytes(log.read_bytes())
    with open(log, "r+b") as f:
        f.truncate(0)


async def test_two_copytruncates_while_stopped_read_both_copies(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    async with harness(tmp_path, path=str(log), start_position="beginning") as h:
        await h.wait_for(lambda: h.texts() == ["a1"])
    append(log, "a2\n")
    for gen in "bc":
        copytruncate(log)
        append(log, f"{gen}1\n")
    async with harness(tmp_path, path=str(log)) as h:
        await h.wait_for(lambda: len(h.texts()) == 3)
        assert h.texts() == ["a2", "b1", "c1"]


async def test_two_copytruncates_between_two_looks_at_runtime_lose_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")
    slow = {"poll_interval": "1h", "inotify": False}
    async with harness(tmp_path, path=str(log), start_position="beginning", **slow) as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: h.texts() == ["a1"])
        append(log, "a2\n")
        for gen in "bc":
            copytruncate(log)
            append(log, f"{gen}1 {gen}1\n")  # not the length of what was there before
        (tailer,) = coll.tailers.values()
        tailer.wake()
        await h.wait_for(lambda: len(h.texts()) == 4, what="a2, b1 and c1")
        assert sorted(h.texts()) == ["a1", "a2", "b1 b1", "c1 c1"]


async def test_a_rotated_file_shorter_than_its_checkpoint_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("a1\n")  # identified by these 3 bytes
    async with harness(tmp_path, path=str(log), start_position="beginning") as h:
        await h.wait_for(lambda: h.texts() == ["a1"])
        append(log, "a2 more\n")
        await h.wait_for(lambda: h.texts() == ["a1", "a2 more"])
    rotate(log)
    os.truncate(tmp_path / "app.log.1", 3)  # the same first bytes, shorter than the offset
    append(log, "b1\n")
    async with harness(tmp_path, path=str(log)) as h:
        await h.wait_for(lambda: len(h.texts()) == 2)
        assert h.texts() == ["a1", "b1"]
