"""Log positions: what a resume skips, what is committed, how it is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qframe.docker.positions import (
    AckTracker,
    CheckpointFile,
    LineCounter,
    Position,
    first_position,
)

S = 1_000_000_000


def test_lines_get_a_sequence_number_per_timestamp() -> None:
    c = LineCounter()
    assert [c.accept(t) for t in (S, S, S, 2 * S, 2 * S, 3 * S)] == [0, 1, 2, 0, 1, 0]
    assert c.position == Position(3 * S, 1)


def test_a_resume_skips_older_lines_and_the_delivered_lines_of_the_same_second() -> None:
    c = LineCounter(Position(2 * S, 2))
    # the engine replays from the start of second 1 (since is in whole seconds)
    seqs = [c.accept(t) for t in (S, S, 2 * S, 2 * S, 2 * S, 2 * S, 3 * S)]
    assert seqs == [-1, -1, -1, -1, 2, 3, 0]
    assert c.position == Position(3 * S, 1)


def test_a_resume_from_a_second_with_nothing_delivered_keeps_that_seconds_lines() -> None:
    c = LineCounter(Position(2 * S, 0))
    assert [c.accept(t) for t in (S, 2 * S, 2 * S)] == [-1, 0, 1]


def test_a_line_stamped_earlier_than_the_newest_does_not_move_the_position_back() -> None:
    c = LineCounter()
    assert [c.accept(t) for t in (2 * S, S, 2 * S)] == [0, 0, 1]
    assert c.position == Position(2 * S, 2)


def test_the_position_since_is_the_whole_second() -> None:
    assert Position(2 * S + 5, 1).since() == 2
    assert Position(2 * S - 1, 1).since() == 1  # never rounded up: no line of 1 s skipped
    assert Position(1_000_000_000_000 * S + 1, 0).since() == 1_000_000_000_000
    assert Position().since() is None


def test_acknowledgements_out_of_order_commit_only_a_contiguous_prefix() -> None:
    commits: list[Position] = []
    t = AckTracker(on_commit=lambda: commits.append(t.committed))
    a = t.track(Position(S, 1))
    b = t.track(Position(S, 3))
    c = t.track(Position(2 * S, 1))
    b()
    assert t.committed == Position() and commits == []
    a()
    assert t.committed == Position(S, 3)
    c()
    assert t.committed == Position(2 * S, 1)
    assert commits == [Position(S, 3), Position(2 * S, 1)]
    assert len(t) == 0


def test_checkpoints_round_trip_and_replace_the_file_atomically(tmp_path: Path) -> None:
    f = CheckpointFile(tmp_path / "positions.json")
    assert f.load() == {}
    f.save({"abc": Position(5 * S, 2), "fresh": Position()})
    # (0, 0): read, nothing acknowledged yet: from its first line on the next start
    assert f.load() == {"abc": Position(5 * S, 2), "fresh": Position()}
    assert json.loads(f.path.read_text())["containers"]["fresh"] == {"ts": 0, "n": 0}
    f.save({"abc": Position(6 * S, 1)})
    assert f.load() == {"abc": Position(6 * S, 1)}
    assert [p.name for p in tmp_path.iterdir()] == ["positions.json"]


def test_a_corrupt_checkpoint_is_reported_not_half_read(tmp_path: Path) -> None:
    p = tmp_path / "positions.json"
    p.write_text('{"version": 1, "containers": {"abc": {"ts"')
    f = CheckpointFile(p)
    with pytest.raises(ValueError, match="unreadable checkpoint"):
        f.load()
    assert f.lost("abc") and f.lost("any")  # nothing of it can be trusted
    p.write_text('{"version": 1, "containers": {"abc": {"ts": "x"}, "def": {"ts": 7, "n": 1}}}')
    assert f.load() == {"def": Position(7, 1)}
    assert f.lost("abc") and not f.lost("def") and not f.lost("any")


def test_a_checkpoint_of_another_shape_or_version_is_unreadable(tmp_path: Path) -> None:
    """Read as empty, its containers would be taken for ones qframe never saw."""
    p = tmp_path / "positions.json"
    p.write_text('{"version": 2, "containers": {}}')
    with pytest.raises(ValueError, match=r"not a version 1 checkpoint \(version 2\)"):
        CheckpointFile(p).load()
    for text in (
        "[1, 2]",
        '"text"',
        "{}",
        '{"containers": {}}',
        '{"version": 2, "containers": {}}',
        '{"version": 1, "containers": [1]}',
        '{"version": 1, "containers": null}',
        '{"version": 1}',
    ):
        p.write_text(text)
        f = CheckpointFile(p)
        with pytest.raises(ValueError, match="unreadable checkpoint"):
            f.load()
        assert f.lost("abc"), text
    p.write_text('{"version": 1, "containers": {}}')
    assert f.load() == {} and not f.lost("abc") and f.rejected == []
    p.unlink()
    assert f.load() == {} and not f.lost("abc")  # none yet: qframe never ran here


def test_before_its_first_load_a_checkpoint_file_has_lost_nothing(tmp_path: Path) -> None:
    f = CheckpointFile(tmp_path / "positions.json")
    assert not f.lost("abc") and f.written_s is None and f.rejected == []


def test_where_the_first_read_of_a_container_starts() -> None:
    """A checkpoint entry wins; without one a container running at start is read from the
    collector's start second -- unless qframe's checkpoint for it was lost (the file
    unreadable, its entry rejected): then from its first line, so the lines it wrote while
    qframe was down arrive (at least once) instead of being a silent gap."""
    entry = Position(5 * S, 2)
    for initial in (True, False):
        for fb in (True, False):
            for lost in (True, False):
                assert first_position(entry, initial, fb, 100, lost) == entry
    assert first_position(None, True, False, 100) == Position(100 * S, 0)
    assert first_position(None, True, False, 100, lost=False) == Position(100 * S, 0)
    assert first_position(None, True, False, 100, lost=True) == Position()
    assert first_position(None, True, True, 100, lost=False) == Position()
    assert first_position(None, False, False, 100, lost=False) == Position()  # started later
    assert first_position(None, False, False, 100, lost=True) == Position()
    # a readable checkpoint written before the start: the container is not in it, so
    # none of its lines since then was acknowledged (it started while qframe was down)
    assert first_position(None, True, False, 100, written_s=90) == Position(90 * S, 0)
    assert first_position(None, True, False, 100, written_s=110) == Position(100 * S, 0)
    assert first_position(None, True, False, 100, True, 90) == Position()
    assert first_position(None, True, True, 100, written_s=90) == Position()
    assert first_position(None, False, False, 100, written_s=90) == Position()
    assert first_position(entry, True, False, 100, written_s=90) == entry


def test_the_checkpoint_says_when_it_was_written(tmp_path: Path) -> None:
    import time

    p = tmp_path / "positions.json"
    f = CheckpointFile(p)
    before = int(time.time())
    f.save({})
    assert f.load() == {} and before <= f.written_s <= time.time()  # type: ignore[operator]
    for updated in ("1", None, True, -1, 0, 1 << 40, [5]):
        p.write_text(json.dumps({"version": 1, "updated": updated, "containers": {}}))
        assert f.load() == {} and f.written_s is None, updated
    p.write_text(json.dumps({"version": 1, "updated": 5.9, "containers": {}}))
    assert f.load() == {} and f.written_s == 5
    p.write_text(json.dumps({"version": 1, "updated": 1, "containers": {}}))
    assert f.load() == {} and f.written_s == 1
    p.write_text("torn")
    with pytest.raises(ValueError):
        f.load()
    assert f.written_s is None


def test_the_checkpoint_file_says_its_version_and_when_it_was_written(tmp_path: Path) -> None:
    import time

    p = tmp_path / "positions.json"
    before = time.time()
    CheckpointFile(p).save({"abc": Position(5 * S, 2)})
    data = json.loads(p.read_text())
    assert data["version"] == 1
    assert before <= data["updated"] <= time.time()
    assert data["containers"] == {"abc": {"ts": 5 * S, "n": 2}}


def test_the_counters_of_old_timestamps_are_dropped_and_the_newest_sixteen_kept() -> None:
    c = LineCounter()
    for ts in range(1, 101):  # one line each at 100 timestamps, in order
        assert c.accept(ts) == 0
        assert len(c._counts) <= 65  # the bound: 64 timestamps and the new one
    assert c.position == Position(100, 1)
    # the prune at 65 counters (ts 1..65) kept the newest 16 (50..65), then 66..100 came
    assert c.accept(49) == 0  # dropped: counted anew
    for ts in range(50, 101):
        assert c.accept(ts) == 1, ts


def test_lines_at_the_newest_timestamp_drop_no_counter_so_older_lines_get_no_repeated_seq() -> None:
    """Counters are dropped only when a newer timestamp comes: lines stamped at 64 older
    timestamps (out of order) and then more at the newest one keep every counter, so a
    later line at an older timestamp does not get a seq (an id) a line already had."""
    c = LineCounter()
    assert c.accept(1000) == 0
    for ts in range(1, 65):
        assert c.accept(ts) == 0
    assert [c.accept(1000), c.accept(1000)] == [1, 2]
    assert [c.accept(1), c.accept(64)] == [1, 1]
    assert c.position == Position(1000, 3)


def test_an_entry_that_is_not_a_position_is_left_out_and_named(tmp_path: Path) -> None:
    """What save never writes is left out on load, the others kept: a count below zero
    taken as is would have the lines at its timestamp that were never delivered skipped."""
    p = tmp_path / "positions.json"
    bad = {
        "neg-n": {"ts": 5 * S, "n": -3},
        "neg-ts": {"ts": -5, "n": 1},
        "zero-ts": {"ts": 0, "n": 1},
        "false": {"ts": False, "n": False},
        "zero-float": {"ts": 0.0, "n": 0},
        "bool": {"ts": True, "n": 1},
        "float": {"ts": 5.5, "n": 1},
        "text": {"ts": "12", "n": 1},
        "no-n": {"ts": 5 * S},
        "huge": {"ts": 1 << 63, "n": 0},
        "list": [5, 1],
    }
    ok = {
        "ok": {"ts": 5 * S, "n": 0},
        "first": {"ts": 1, "n": (1 << 63) - 1},
        "start": {"ts": 0, "n": 0},
    }
    p.write_text(json.dumps({"version": 1, "containers": {**ok, **bad}}))
    f = CheckpointFile(p)
    assert f.load() == {
        "ok": Position(5 * S, 0),
        "first": Position(1, (1 << 63) - 1),
        "start": Position(),
    }
    assert len(f.rejected) == len(bad)
    assert f.rejected[0] == "container neg-n: {'ts': 5000000000, 'n': -3} is not a position"
    assert CheckpointFile(tmp_path / "none.json").load() == {}
    assert f.load() and len(f.rejected) == len(bad)  # each load lists its own
