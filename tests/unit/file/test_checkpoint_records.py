"""The file collector's checkpoint records and the committed offset of a file's batches."""

from __future__ import annotations

from typing import Any

import pytest

from qframe.plugins.collectors.file.checkpoint import Progress, check_record
from qframe.plugins.collectors.file.identity import Identity

FP = "0123456789abcdef" * 2
RECORD: dict[str, Any] = {
    "path": "/var/log/a.log", "dev": 0, "ino": 7, "fp": FP, "fp_len": 6,
    "offset": 0, "size": 120, "seen": 1800,
}  # fmt: skip


def progress(committed: int = 0) -> Progress:
    return Progress(Identity(1, 2, FP, 6), "/a.log", committed)


def test_a_record_round_trips_with_its_size_and_time_seen() -> None:
    p = Progress.from_record(RECORD)
    assert (p.path, p.committed, p.read_pos, p.size, p.last_seen) == (
        "/var/log/a.log",
        0,
        0,
        120,
        1800.0,
    )
    assert (p.identity.dev, p.identity.ino, p.identity.fp_len) == (0, 7, 6)
    assert p.to_record() == RECORD
    bare = {k: v for k, v in RECORD.items() if k not in ("size", "seen")}
    q = Progress.from_record({**bare, "offset": 50})
    assert (q.size, q.last_seen) == (50, 0.0)  # at least what was committed; never seen


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"offset": -1}, "offset -1 is not a whole number >= 0"),
        ({"offset": 1 << 63}, "is not a whole number >= 0"),
        ({"dev": True}, "dev True is not"),
        ({"fp_len": 0}, "fp_len 0 is not a whole number > 0"),
        ({"fp": "xyz"}, "fp 'xyz' is not a fingerprint"),
        ({"path": ""}, "path '' is not a path"),
        ({"size": -5}, "size -5 is not"),
        ({"seen": "x"}, "seen 'x' is not a time"),
        ({"seen": float("nan")}, "seen nan is not a time"),
    ],
)
def test_a_record_with_a_bad_field_names_it(change: dict[str, Any], problem: str) -> None:
    r = {**RECORD, **change}
    assert problem in check_record(r)
    with pytest.raises(ValueError, match="is not"):
        Progress.from_record(r)
    assert check_record({**RECORD, "offset": (1 << 63) - 1}) == ""


def test_bytes_that_made_no_message_commit_once_the_batches_before_them_are_delivered() -> None:
    p = progress(10)
    p.skip_to(5)  # nothing pending, behind the committed offset: no move back
    assert p.committed == 10
    p.skip_to(20)  # nothing pending: committed at once
    assert p.committed == 20 and p.in_flight == 0
    done = p.add(30)
    p.skip_to(40)
    assert p.committed == 20 and p.in_flight == 2  # waits for the batch before it
    done()
    assert p.committed == 40 and p.in_flight == 0


def test_an_abandoned_batch_is_forgotten_but_a_delivered_one_is_not() -> None:
    p = progress()
    first = p.add(10)
    p.add(20)
    p.abandon()  # the second was not sent: nothing commits past its start
    assert p.in_flight == 1
    first()
    assert p.committed == 10
    second = p.add(40)
    p.skip_to(50)
    p.abandon()  # the last entry is done (bytes that made no message): kept
    assert p.in_flight == 2
    second()
    assert p.committed == 50
    progress().abandon()  # nothing pending: nothing happens
    only = progress()
    only.add(5)
    only.abandon()  # one batch, not sent: forgotten
    assert only.in_flight == 0
    three = progress()
    done = three.add(10)
    three.add(20)
    three.add(30)
    three.abandon()  # only the last of three
    assert three.in_flight == 2
    done()
    assert three.committed == 10


def test_a_new_file_is_recorded_as_nothing_read_and_never_seen() -> None:
    p = progress()
    assert (p.committed, p.read_pos, p.size, p.last_seen, p.in_flight) == (0, 0, 0, 0.0, 0)
    assert (p.to_record()["size"], p.to_record()["seen"]) == (0, 0)
    bare = {k: v for k, v in RECORD.items() if k not in ("size", "seen")}
    q = Progress.from_record(bare)  # offset 0 and no size: nothing known to be read
    assert (q.size, q.to_record()["size"]) == (0, 0)


def test_the_time_seen_is_recorded_to_the_minute_so_a_scan_changes_no_record() -> None:
    p = progress()
    for t, minute in ((1800.0, 1800), (1859.9, 1800), (1860.0, 1860), (1919.5, 1860)):
        p.last_seen = t
        seen = p.to_record()["seen"]
        assert seen == minute and type(seen) is int, t
