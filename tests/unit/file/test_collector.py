"""The file collector in a pipeline: positions, fields, ids, checkpoints, rotation."""

from __future__ import annotations

import os
from pathlib import Path

from qframe.plugin import ack
from qframe.testing import wait_until

from .helpers import append, checkpoint, harness


async def test_reads_a_file_from_the_beginning_with_path_offset_and_id(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("one\ntwo\nthree\n")
    async with harness(tmp_path, path=str(tmp_path / "*.log"), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        msgs = h.captured("out")
    assert [m.message for m in msgs] == ["one", "two", "three"]
    assert [m.fields for m in msgs] == [
        {"path": str(f), "offset": 0},
        {"path": str(f), "offset": 4},
        {"path": str(f), "offset": 8},
    ]
    prefix = msgs[0].id.rsplit("-", 1)[0]
    assert [m.id for m in msgs] == [f"{prefix}-0", f"{prefix}-4", f"{prefix}-8"]
    assert msgs[0].kind == "log" and msgs[0].host and msgs[0].source_path == ["files", "out"]


async def test_ids_are_the_same_when_the_file_is_read_again(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\nb\n")
    ids = []
    for run in range(2):
        data = tmp_path / "data"
        if data.exists():  # forget the checkpoint: the same lines are read again
            (data / "collector.files" / "checkpoints.json").unlink()
        async with harness(tmp_path, path=str(f), start_position="beginning") as h:
            await h.wait_for(lambda: len(h.captured("out")) == 2, what=f"run {run}")
            ids.append([m.id for m in h.captured("out")])
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


async def test_start_position_end_skips_old_lines_but_reads_later_files_whole(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.log"
    old.write_text("old 1\nold 2\npartial")
    async with harness(tmp_path, path=str(tmp_path / "*.log")) as h:
        await wait_until(lambda: h.plugin("files").tailers, what="old.log opened")
        append(old, " line\nnew 1\n")
        (tmp_path / "later.log").write_text("later 1\nlater 2\n")
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        got = sorted(h.texts())
    assert got == ["later 1", "later 2", "new 1", "partial line"]


async def test_exclude_leaves_matching_paths_out(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("a\n")
    (tmp_path / "a.log.1").write_text("rotated\n")
    (tmp_path / "b.log").write_text("b\n")
    async with harness(
        tmp_path,
        path=str(tmp_path / "*.log*"),
        exclude=["*.1", str(tmp_path / "b.log")],
        start_position="beginning",
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) >= 1)
        await h.wait_for(lambda: h.plugin("files")._scans >= 3, what="more scans")
        assert h.texts() == ["a"]


async def test_checkpoint_holds_only_acknowledged_lines(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("x" * 9 + "\n")
    async with harness(tmp_path, "hold", path=str(f), start_position="beginning") as h:
        hold = h.plugin("out")
        await h.wait_for(lambda: len(hold.messages) == 1)
        await h.wait_for(lambda: str(f) in checkpoint(tmp_path), what="first checkpoint")
        assert checkpoint(tmp_path)[str(f)] == 0  # read, not delivered
        append(f, "y" * 9 + "\n")
        await h.wait_for(lambda: len(hold.messages) == 2)
        ack(hold.messages[1:])  # the second batch first: nothing is contiguous yet
        (progress,) = h.plugin("files").progress.values()
        assert progress.committed == 0 and progress.in_flight == 2
        ack(hold.messages[:1])
        await h.wait_for(lambda: checkpoint(tmp_path).get(str(f)) == 20, what="commit 20")


async def test_restart_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("".join(f"line {i}\n" for i in range(100)))
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 100)
    assert checkpoint(tmp_path)[str(f)] == f.stat().st_size  # written at stop
    append(f, "line 100\nline 101\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        await h.wait_for(lambda: h.plugin("files")._scans >= 3, what="more scans")
        assert h.texts() == ["line 100", "line 101"]


async def test_the_same_inode_with_new_content_is_read_from_its_start(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("old content line\n" * 10)
    ino = f.stat().st_ino
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 10)
    # while stopped, the inode gets other content, longer than the checkpointed offset:
    # only the fingerprint can tell (what a recycled inode number looks like)
    with open(f, "r+") as w:
        w.truncate(0)
        w.write("fresh\n" * 40)
    assert f.stat().st_ino == ino
    async with harness(tmp_path, path=str(f)) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 40)
        assert h.texts() == ["fresh"] * 40
        assert h.captured("out")[0].fields["offset"] == 0


async def test_a_deleted_and_recreated_file_is_read_from_its_start(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("old content line\n" * 10)
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 10)
    f.unlink()
    f.write_text("fresh\n" * 40)  # ext4 usually hands the same inode number out again
    async with harness(tmp_path, path=str(f)) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 40)
        assert h.texts() == ["fresh"] * 40


async def test_rename_and_create_reads_the_renamed_file_to_its_end(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a1\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
        with open(f, "a") as writer:
            os.rename(f, tmp_path / "app.log.1")
            writer.write("a2 written after the rename\n")
        f.write_text("b1\n")
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        assert sorted(h.texts()) == ["a1", "a2 written after the rename", "b1"]
        paths = {m.message: m.fields["path"] for m in h.captured("out")}
        assert paths["b1"] == str(f)


async def test_truncation_restarts_reading_at_zero(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("first 1\nfirst 2\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        with open(f, "r+") as w:
            w.truncate(0)
        await h.wait_for(lambda: h.plugin("files").metrics.counter("files", event="truncated"))
        append(f, "second 1\n")
        # truncated and refilled past the old position between two looks
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        with open(f, "r+") as w:
            w.truncate(0)
        append(f, "third line that is longer than what was there\n")
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        assert h.texts() == [
            "first 1",
            "first 2",
            "second 1",
            "third line that is longer than what was there",
        ]
        ids = [m.id for m in h.captured("out")]
        assert len(set(ids)) == 4


async def test_a_deleted_file_is_closed_after_close_inactive(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\nunterminated")
    async with harness(
        tmp_path, path=str(f), start_position="beginning", close_inactive="200ms"
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
        f.unlink()
        coll = h.plugin("files")
        await h.wait_for(lambda: not coll.tailers, what="the deleted file closed")
        # the unterminated last line of a file that is gone is sent at close
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        assert h.texts() == ["a", "unterminated"]
        assert coll.metrics.counter("files", event="deleted") == 1


async def test_an_inactive_file_is_reopened_where_it_stopped(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\npart")
    async with harness(
        tmp_path, path=str(f), start_position="beginning", close_inactive="100ms"
    ) as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: coll.metrics.counter("files", event="closed") >= 1)
        append(f, "ial\nb\n")
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        assert h.texts() == ["a", "partial", "b"]


async def test_a_hundred_files_are_read_at_once(tmp_path: Path) -> None:
    for i in range(100):
        (tmp_path / f"f{i:03d}.log").write_text("".join(f"{i} {j}\n" for j in range(50)))
    async with harness(tmp_path, path=str(tmp_path / "*.log"), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 5000, timeout=30)
        for i in range(100):
            append(tmp_path / f"f{i:03d}.log", f"{i} 50\n")
        await h.wait_for(lambda: len(h.captured("out")) == 5100, timeout=30)
        got = set(h.texts())
        assert len(h.plugin("files").tailers) == 100
    assert got == {f"{i} {j}" for i in range(100) for j in range(51)}


async def test_a_rename_rotation_while_stopped_is_read_from_the_rotated_file(
    tmp_path: Path,
) -> None:
    f = tmp_path / "app.log"
    f.write_text("a1\na2\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
    append(f, "a3 written while stopped\n")
    os.rename(f, tmp_path / "app.log.1")
    f.write_text("b1\n")
    async with harness(tmp_path, path=str(f)) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        assert sorted(h.texts()) == ["a3 written while stopped", "b1"]
        assert h.plugin("files").metrics.counter("files", event="recovered") == 1


async def test_a_copytruncate_while_stopped_reads_the_rest_from_the_copy(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a1\na2\n")
    async with harness(tmp_path, path=str(f), start_position="beginning") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        first_ids = [m.id for m in h.captured("out")]
    append(f, "a3 written while stopped\n")
    (tmp_path / "app.log.1").write_bytes(f.read_bytes())
    with open(f, "r+") as w:
        w.truncate(0)
    append(f, "b1\n")
    async with harness(tmp_path, path=str(f)) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        msgs = sorted(h.captured("out"), key=lambda m: m.message)
        assert [m.message for m in msgs] == ["a3 written while stopped", "b1"]
    # the recovered line keeps the old file's identity in its id
    assert msgs[0].id.rsplit("-", 1)[0] == first_ids[0].rsplit("-", 1)[0]
    assert msgs[0].fields["offset"] == 6


async def test_a_corrupt_checkpoint_is_reported_and_files_are_read_whole(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\nb\n")
    cp = tmp_path / "data" / "collector.files" / "checkpoints.json"
    cp.parent.mkdir(parents=True)
    cp.write_text('{"version": 1, "files": [{"path": 3}]}')
    async with harness(tmp_path, path=str(f)) as h:  # start-position end: not a first start
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        assert h.plugin("files").metrics.counter("rejected", reason="checkpoint") == 1
    assert checkpoint(tmp_path) == {str(f): 4}  # rewritten whole at stop


async def test_lines_unread_at_a_copytruncate_are_read_from_the_copy(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a1\na2\n")
    slow = {"poll_interval": "1h", "inotify": False}
    async with harness(tmp_path, path=str(f), start_position="beginning", **slow) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        # written, copied and truncated before the collector looked again
        append(f, "a3 not read before the truncate\n")
        (tmp_path / "app.log.1").write_bytes(f.read_bytes())
        with open(f, "r+") as w:
            w.truncate(0)
        append(f, "b1\n")
        coll = h.plugin("files")
        (tailer,) = coll.tailers.values()
        tailer.wake()
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        assert h.texts() == ["a1", "a2", "a3 not read before the truncate", "b1"]
        assert coll.metrics.counter("files", event="copy_read") == 1
        ids = [m.id for m in h.captured("out")]
    assert ids[2].rsplit("-", 1)[0] == ids[0].rsplit("-", 1)[0]  # the old identity
    assert ids[3].rsplit("-", 1)[0] != ids[0].rsplit("-", 1)[0]  # the new content's


async def test_the_first_start_positions_are_saved_at_once(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("old\n")
    async with harness(tmp_path, tick="1h", path=str(f)) as h:  # no tick: the first scan did
        await h.wait_for(lambda: checkpoint(tmp_path) == {str(f): 4}, what="saved at start")


async def test_the_lag_gauge_counts_bytes_written_and_not_read_yet(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_text("a\n")
    slow = {"poll_interval": "1h", "inotify": False}
    async with harness(tmp_path, path=str(f), start_position="beginning", **slow) as h:
        coll = h.plugin("files")
        await h.wait_for(lambda: h.texts() == ["a"])
        append(f, "bbbb\n")

        def lag() -> float | None:
            return coll.metrics.gauges.get(("lag_bytes", ()))

        await h.wait_for(lambda: lag() == 5, what="lag 5")
        (tailer,) = coll.tailers.values()
        tailer.wake()
        await h.wait_for(lambda: h.texts() == ["a", "bbbb"])
        await h.wait_for(lambda: lag() == 0, what="lag 0")
