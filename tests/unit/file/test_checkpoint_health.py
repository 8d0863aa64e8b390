"""Checkpoint records are checked one by one; a file that cannot be read shows in health."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from qframe.plugins.collectors.file.checkpoint import CheckpointStore, Progress
from qframe.plugins.collectors.file.identity import Identity
from tests.conftest import Lines

from .helpers import append, checkpoint, harness


def saved_records(tmp_path: Path) -> list[dict[str, Any]]:
    f = tmp_path / "data" / "collector.files" / "checkpoints.json"
    return list(json.loads(f.read_text())["files"])


def write_records(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    f = tmp_path / "data" / "collector.files" / "checkpoints.json"
    f.write_text(json.dumps({"version": 1, "files": records}))


@pytest.mark.parametrize(
    "bad", [-500, -1, True, 1.5, "12", None, 1 << 70], ids=lambda v: f"offset={v!r}"
)
async def test_an_invalid_offset_rereads_that_file_and_keeps_the_others(
    tmp_path: Path, daemon_log: Lines, bad: object
) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("a1\na2\n")
    b.write_text("b1\n")
    glob = str(tmp_path / "*.log")
    async with harness(tmp_path, path=glob, start_position="beginning") as h:
        await h.wait_for(lambda: len(h.texts()) == 3)
    records = saved_records(tmp_path)
    for r in records:
        if r["path"] == str(a):
            r["offset"] = bad
    write_records(tmp_path, records)
    append(a, "a3\n")
    append(b, "b2\n")
    async with harness(tmp_path, path=glob) as h:
        await h.wait_for(lambda: len(h.texts()) == 4, what="a read again from 0, b resumed")
        coll = h.plugin("files")
        assert sorted(h.texts()) == ["a1", "a2", "a3", "b2"]
        assert coll.metrics.counter("rejected", reason="checkpoint") == 1
        assert coll.metrics.state == "ok"
    assert checkpoint(tmp_path) == {str(a): 9, str(b): 6}
    warned = [t for t in daemon_log.texts(logging.WARNING) if "read from its start" in t]
    assert len(warned) == 1 and "offset" in warned[0], warned


def test_every_record_field_is_checked(tmp_path: Path) -> None:
    good = {"path": "/x.log", "dev": 1, "ino": 2, "fp": "ab" * 16, "fp_len": 5, "offset": 9}
    bad = [
        {**good, "dev": -1},
        {**good, "ino": "2"},
        {**good, "fp": "zz"},
        {**good, "fp_len": 0},
        {**good, "path": ""},
        {**good, "size": -3},
        {**good, "seen": "yesterday"},
        {k: v for k, v in good.items() if k != "offset"},
        ["not", "an", "object"],
        {**good, "path": 5},
    ]
    (tmp_path / "checkpoints.json").write_text(json.dumps({"version": 1, "files": [good, *bad]}))
    store = CheckpointStore(tmp_path)
    (p,) = store.load()
    assert (p.path, p.committed) == ("/x.log", 9)
    assert len(store.rejected) == len(bad)
    # each names its record: by its path when it has one, else by its place in the list
    assert store.rejected[0] == "record '/x.log': dev -1 is not a whole number >= 0"
    assert store.rejected[-2] == "record #9: not an object: ['not', 'an', 'object']"
    assert store.rejected[-1] == "record #10: path 5 is not a path"


async def test_a_file_whose_reads_keep_failing_makes_health_degraded_until_it_goes(
    tmp_path: Path,
) -> None:
    ok = tmp_path / "ok.log"
    ok.write_text("ok 1\n")
    stuck = tmp_path / "stuck.log"
    os.symlink("/proc/self/mem", stuck)  # a regular file whose every read fails with EIO
    glob = str(tmp_path / "*.log")
    async with harness(tmp_path, path=glob, start_position="beginning") as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: coll.metrics.counter("rejected", reason="open_error") >= 2)
        assert h.texts() == ["ok 1"]
        assert coll.metrics.state == "degraded"
        assert "1 files cannot be read" in coll.metrics.state_reason
        assert "stuck.log" in coll.metrics.state_reason
        append(ok, "ok 2\n")  # the other files flow on
        await h.wait_for(lambda: h.texts() == ["ok 1", "ok 2"])
        stuck.unlink()
        await h.wait_for(lambda: coll.metrics.state == "ok", what="healthy once it is gone")


def test_a_missing_checkpoint_loads_as_no_record_and_no_time(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    assert (store.load(), store.rejected, store.mtime) == ([], [], 0.0)
    assert not store.exists()


def test_an_unchanged_checkpoint_is_not_written_again_after_a_save_or_a_load(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path)
    p = Progress(Identity(1, 2, "ab" * 16, 5), "/x.log", 10)
    p.last_seen = 120.0
    assert store.save([p]) is True
    first = store.path.stat()
    p.last_seen = 179.0  # seen again in the same minute: the same record
    assert store.save([p]) is False
    assert store.path.stat().st_ino == first.st_ino  # not replaced
    p.committed = 20
    assert store.save([p]) is True
    assert [r["offset"] for r in saved(store)] == [20]
    written = store.path.stat()
    again = CheckpointStore(tmp_path)  # a restart: what it loaded is what is on disk
    assert again.save(again.load()) is False
    assert store.path.stat().st_ino == written.st_ino
    assert again.mtime == written.st_mtime


def test_a_checkpoint_write_that_fails_keeps_the_old_file_and_the_next_save_writes(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path)
    p = Progress(Identity(1, 2, "ab" * 16, 5), "/x.log", 10)
    store.save([p])
    blocker = tmp_path / f".checkpoints.json.{os.getpid()}.tmp"
    blocker.mkdir()  # the temp file cannot be created: the write fails before the rename
    p.committed = 20
    with pytest.raises(OSError):
        store.save([p])
    assert [r["offset"] for r in saved(store)] == [10]  # the old checkpoint, whole
    blocker.rmdir()
    assert store.save([p]) is True  # not taken for written: the same records go out now
    assert [r["offset"] for r in saved(store)] == [20]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["checkpoints.json"]


def saved(store: CheckpointStore) -> list[dict[str, Any]]:
    return list(json.loads(store.path.read_text())["files"])


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b'{"version": 1, "files": [{"path": "/x.log", "dev": 1',  # torn: cut short
        b"\0" * 4096,  # a block that never got its data
        b'{"version": 1, "files": []}\x80',  # not UTF-8
        b"[" * 100_000,  # nested past the parser's depth
        b'{"version": 2, "files": []}',
        b'{"version": 1, "files": {}}',
        b"[]",
    ],
    ids=["empty", "torn", "zeros", "not-utf-8", "too-deep", "version-2", "files-not-list", "list"],
)
def test_a_checkpoint_that_cannot_be_read_is_a_value_error_naming_the_file(
    tmp_path: Path, text: bytes
) -> None:
    (tmp_path / "checkpoints.json").write_bytes(text)
    with pytest.raises(ValueError, match=r"checkpoints\.json: unreadable checkpoint: "):
        CheckpointStore(tmp_path).load()


async def test_a_checkpoint_nested_too_deep_is_reported_and_the_files_are_read_whole(
    tmp_path: Path, daemon_log: Lines
) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\nb\n")
    cp = tmp_path / "data" / "collector.files" / "checkpoints.json"
    cp.parent.mkdir(parents=True)
    cp.write_text("[" * 100_000)
    async with harness(tmp_path, path=str(f)) as h:  # start-position end: not a first start
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        coll = h.plugin("files")
        assert coll.metrics.counter("rejected", reason="checkpoint") == 1
    assert checkpoint(tmp_path) == {str(f): 4}  # rewritten whole at stop
    assert any("unreadable checkpoint" in t for t in daemon_log.texts(logging.ERROR))
