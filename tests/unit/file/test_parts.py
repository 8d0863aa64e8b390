"""The file collector's parts on their own: multiline, progress, checkpoint store, identity."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qframe.plugins.collectors.file.checkpoint import CheckpointStore, Progress
from qframe.plugins.collectors.file.identity import Identity, read_head
from qframe.plugins.collectors.file.multiline import Event, Multiline
from qframe.plugins.collectors.file.options import FileOptions, MultilineOptions


def run_multiline(lines: list[str], **opts: object) -> list[Event]:
    ml = Multiline(MultilineOptions(**opts))  # type: ignore[arg-type]
    out: list[Event] = []
    off = 0
    for ln in lines:
        ml.feed(ln, off, off + len(ln) + 1, out)
        off += len(ln) + 1
    ev = ml.flush()
    if ev is not None:
        out.append(ev)
    return out


def test_multiline_after_joins_indented_lines_to_the_line_before() -> None:
    evs = run_multiline(["Exception: boom", "  at a()", "  at b()", "next"], pattern=r"^\s")
    assert [e[0] for e in evs] == ["Exception: boom\n  at a()\n  at b()", "next"]
    assert [e[1] for e in evs] == [0, 34]
    assert evs[0][4] == 3


def test_multiline_negated_after_joins_lines_not_starting_with_a_bracket() -> None:
    lines = ["[1] start", "more", "[2] x", "[3] y", "tail"]
    evs = run_multiline(lines, pattern=r"^\[", negate=True, match="after")
    assert [e[0] for e in evs] == ["[1] start\nmore", "[2] x", "[3] y\ntail"]


def test_multiline_before_joins_continued_lines_to_the_next_one() -> None:
    evs = run_multiline(["a \\", "b \\", "c", "d"], pattern=r"\\$", match="before")
    assert [e[0] for e in evs] == ["a \\\nb \\\nc", "d"]


def test_multiline_negated_before_ends_a_message_at_a_matching_line() -> None:
    evs = run_multiline(["x", "y", "END", "z", "END"], pattern="^END$", negate=True, match="before")
    assert [e[0] for e in evs] == ["x\ny\nEND", "z\nEND"]


def test_multiline_keeps_at_most_max_lines_and_flags_the_rest() -> None:
    evs = run_multiline(["head", " 1", " 2", " 3", "next"], pattern=r"^\s", max_lines=2)
    assert evs[0][0] == "head\n 1"
    assert evs[0][3] is True
    assert evs[1][0] == "next" and evs[1][3] is False


def test_multiline_pattern_that_does_not_compile_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="regular expression"):
        MultilineOptions(pattern="(")


def test_options_need_a_path_and_an_ascii_compatible_encoding() -> None:
    with pytest.raises(ValueError, match="path"):
        FileOptions()
    with pytest.raises(ValueError, match="ASCII"):
        FileOptions(path=["x"], encoding="utf-16")
    o = FileOptions.model_validate({"path": "a.log, b/*.log", "scan-interval": "2s"})
    assert o.path == ["a.log", "b/*.log"] and o.scan_interval == 2.0


def test_progress_commits_only_the_contiguous_acknowledged_prefix() -> None:
    p = Progress(Identity(1, 2, "ab", 2), "/x", 0)
    first, second, third = p.add(100), p.add(250), p.add(300)
    second()
    assert p.committed == 0
    third()
    assert p.committed == 0
    first()
    assert p.committed == 300 and p.in_flight == 0


def test_progress_skips_blank_stretches_only_after_earlier_batches() -> None:
    p = Progress(Identity(1, 2, "ab", 2), "/x", 10)
    cb = p.add(50)
    p.skip_to(60)
    assert p.committed == 10
    cb()
    assert p.committed == 60
    p.skip_to(70)
    assert p.committed == 70


def test_progress_abandoned_batch_keeps_the_commit_point_before_it() -> None:
    p = Progress(Identity(1, 2, "ab", 2), "/x", 0)
    first = p.add(100)
    late = p.add(200)
    p.abandon()
    first()
    late()  # a partial delivery completing later must not move the commit point
    assert p.committed == 100


def test_checkpoint_store_round_trips_and_writes_atomically(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert not store.exists() and store.load() == []
    p = Progress(Identity(7, 8, "ff" * 16, 12), "/var/log/a.log", 0)
    p.add(123)()
    assert store.save([p]) is True
    assert store.save([p]) is False  # unchanged: not rewritten
    assert [f.name for f in tmp_path.iterdir()] == ["checkpoints.json"]  # no temp left
    loaded = CheckpointStore(tmp_path).load()
    assert len(loaded) == 1
    q = loaded[0]
    assert (q.identity.uid, q.path, q.committed, q.read_pos) == (
        p.identity.uid,
        "/var/log/a.log",
        123,
        123,
    )
    assert json.loads((tmp_path / "checkpoints.json").read_text())["version"] == 1


def test_checkpoint_store_reports_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "checkpoints.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable checkpoint"):
        CheckpointStore(tmp_path).load()


def test_identity_tells_a_recycled_inode_from_the_same_file(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"first content\n")
    fd = os.open(f, os.O_RDONLY)
    try:
        ident = Identity.of(1, 2, read_head(fd, 1024))
        assert ident.fp_len == 14
    finally:
        os.close(fd)
    assert ident.matches(b"first content\nand more that was appended\n")
    assert not ident.matches(b"other content\n")
    assert not ident.matches(b"first")  # shorter than what was hashed
    assert Identity.of(1, 3, b"first content\n").uid != ident.uid  # another inode
