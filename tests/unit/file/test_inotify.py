"""inotify wake-ups: with polling set to an hour, only inotify can bring these lines in."""

from __future__ import annotations

from pathlib import Path

from .helpers import append, harness

SLOW = {"scan_interval": "1h", "poll_interval": "1h"}


async def test_inotify_brings_new_files_and_new_lines_without_polling(tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    old.write_text("old 1\n")
    async with harness(
        tmp_path, path=str(tmp_path / "*.log"), start_position="beginning", **SLOW
    ) as h:
        await h.wait_for(lambda: h.texts() == ["old 1"])
        coll = h.plugin("files")
        assert coll._watcher is not None and coll._watcher.active
        (tmp_path / "new.log").write_text("new 1\n")
        await h.wait_for(lambda: "new 1" in h.texts(), what="the new file")
        append(old, "old 2\n")
        await h.wait_for(lambda: "old 2" in h.texts(), what="the appended line")
        (tmp_path / "sub").mkdir()  # events about other names change nothing
        append(old, "old 3\n")
        await h.wait_for(lambda: "old 3" in h.texts(), what="another appended line")
    assert sorted(h.texts()) == ["new 1", "old 1", "old 2", "old 3"]


async def test_with_inotify_off_reading_polls(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_text("a 1\n")
    async with harness(tmp_path, path=str(f), start_position="beginning", inotify=False) as h:
        await h.wait_for(lambda: h.texts() == ["a 1"])
        assert h.plugin("files")._watcher is None
        append(f, "a 2\n")
        await h.wait_for(lambda: h.texts() == ["a 1", "a 2"])


async def test_a_write_to_a_file_closed_as_inactive_is_read_without_waiting_for_a_scan(
    tmp_path: Path,
) -> None:
    f = tmp_path / "a.log"
    f.write_text("a 1\n")
    # tailers poll (to notice they are inactive), discovery does not: scans are an hour apart
    opts = {"scan_interval": "1h", "poll_interval": "50ms", "close_inactive": "100ms"}
    async with harness(tmp_path, path=str(f), start_position="beginning", **opts) as h:
        await h.wait_for(lambda: h.texts() == ["a 1"])
        coll = h.plugin("files")
        await h.wait_for(lambda: not coll.tailers, timeout=30, what="the file closed")
        append(f, "a 2\n")  # only inotify can bring it: the next scan is an hour away
        await h.wait_for(lambda: h.texts() == ["a 1", "a 2"], timeout=30, what="the new line")
