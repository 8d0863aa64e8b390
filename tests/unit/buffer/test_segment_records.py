"""The segment record format read back byte by byte (qframe.buffer.segment): where a record
ends, what is incomplete and what is damage, and where the search after damage resumes —
at every boundary (the header, the limit, the scan window).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.buffer import segment
from qframe.buffer.segment import (
    HEADER,
    MAX_RECORD,
    SYNC,
    Corrupt,
    Record,
    encode_record,
    read_next,
)


@pytest.fixture
def write(tmp_path: Path) -> Iterator:
    fds: list[int] = []

    def open_with(data: bytes) -> int:
        path = tmp_path / f"seg-{len(fds)}"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        fds.append(fd)
        return fd

    yield open_with
    for fd in fds:
        os.close(fd)


def header(length: int, events: int, crc: int = 0, sync: bytes = SYNC) -> bytes:
    return struct.pack("<4sIII", sync, length, events, crc)


def test_a_record_is_its_header_and_payload_and_its_crc_covers_length_and_events() -> None:
    rec = encode_record(b"hello", 3)
    crc = zlib.crc32(b"hello", zlib.crc32(struct.pack("<II", 5, 3)))
    assert rec == SYNC + struct.pack("<III", 5, 3, crc) + b"hello"
    assert HEADER == 16 == len(encode_record(b"", 0))


def test_records_read_back_with_their_positions_and_events(write) -> None:
    data = encode_record(b"one", 1) + encode_record(b"", 0) + encode_record(b"three", 7)
    fd = write(data)
    a = read_next(fd, 0, len(data))
    assert a == Record(0, HEADER + 3, 1, b"one")
    b = read_next(fd, a.end, len(data))
    assert b == Record(a.end, a.end + HEADER, 0, b"")
    c = read_next(fd, b.end, len(data))
    assert c == Record(b.end, len(data), 7, b"three")
    assert read_next(fd, c.end, len(data)) is None
    assert read_next(fd, len(data) + 5, len(data)) is None


def test_an_empty_record_that_ends_at_the_limit_is_whole(write) -> None:
    data = encode_record(b"", 4)
    fd = write(data)
    assert read_next(fd, 0, HEADER) == Record(0, HEADER, 4, b"")
    assert read_next(fd, 0, HEADER, sealed=False) == Record(0, HEADER, 4, b"")


def test_a_record_past_the_limit_is_incomplete_while_written_and_damage_when_sealed(
    write,
) -> None:
    data = encode_record(b"payload", 1)
    fd = write(data)
    for limit in (1, 2, 3, 4, 10, HEADER - 1, HEADER, len(data) - 1):
        assert read_next(fd, 0, limit, sealed=False) is None, limit
        assert read_next(fd, 0, limit) is None, limit  # nothing after it: a torn tail
    assert read_next(fd, 0, len(data), sealed=False) == Record(0, len(data), 1, b"payload")


def test_a_partial_header_is_incomplete_only_while_it_can_still_be_a_sync(write) -> None:
    # the limit falls inside the header: what lies beyond it is not looked at
    fd = write(SYNC[:2] + b"zz" + b"\0" * 40)
    assert read_next(fd, 0, 2, sealed=False) is None
    fd = write(b"\xfe\xc2" + b"\0" * 40)
    assert read_next(fd, 0, 2, sealed=False) == Corrupt(0, 2)
    fd = write(SYNC + b"\0" * 40)
    assert read_next(fd, 0, 10, sealed=False) is None  # a whole sync, the rest to come
    fd = write(b"\xfe\xc1\xf5\x00" + b"\0" * 40)
    assert read_next(fd, 0, 10, sealed=False) == Corrupt(0, 10)


def test_a_file_shorter_than_the_limit_reads_as_incomplete(write) -> None:
    data = encode_record(b"abc", 1)
    fd = write(data[:-1])
    assert read_next(fd, 0, len(data), sealed=False) is None
    fd = write(data[:10])
    assert read_next(fd, 0, len(data), sealed=False) is None
    assert read_next(fd, 0, 100) is None


def test_a_length_up_to_the_maximum_is_a_record_to_come_and_beyond_it_damage(write) -> None:
    for length, want in ((MAX_RECORD, None), (MAX_RECORD + 1, Corrupt(0, 40))):
        fd = write(header(length, 1) + b"\0" * 24)
        assert read_next(fd, 0, 40, sealed=False) == want, length


def test_a_bad_crc_or_a_bad_sync_is_damage_up_to_the_next_record(write) -> None:
    good = encode_record(b"good", 2)
    bad_crc = header(4, 2, crc=12345) + b"good"
    bad_sync = header(4, 2, sync=b"\xfe\xc1\xf5\xfe") + b"good"
    for bad in (bad_crc, bad_sync):
        data = bad + good
        fd = write(data)
        assert read_next(fd, 0, len(data)) == Corrupt(0, len(bad))
        assert read_next(fd, 0, len(data), sealed=False) == Corrupt(0, len(bad))
        assert read_next(fd, len(bad), len(data)) == Record(len(bad), len(data), 2, b"good")


def test_the_crc_covers_the_events_count(write) -> None:
    rec = bytearray(encode_record(b"data", 5))
    rec[8] = 6  # events 5 -> 6
    fd = write(bytes(rec))
    assert read_next(fd, 0, len(rec)) == Corrupt(0, len(rec))


def test_damage_with_no_record_after_it_runs_to_the_limit(write) -> None:
    data = b"garbage!" * 4
    fd = write(data)
    assert read_next(fd, 0, len(data)) == Corrupt(0, len(data))
    assert read_next(fd, 0, len(data), sealed=False) == Corrupt(0, len(data))
    assert read_next(fd, 3, 20) == Corrupt(3, 20)


def test_one_stray_byte_before_a_record_is_one_byte_of_damage(write) -> None:
    rec = encode_record(b"x", 1)
    fd = write(b"\x00" + rec)
    assert read_next(fd, 0, 1 + len(rec)) == Corrupt(0, 1)


def test_a_sync_whose_record_is_damaged_is_skipped_by_the_search(write) -> None:
    good = encode_record(b"good", 1)
    fake = SYNC + b"\xff" * 12  # a sync, and a header no record checks out with
    data = b"junk" + fake + good
    fd = write(data)
    assert read_next(fd, 0, len(data)) == Corrupt(0, 4 + len(fake))


def test_a_sealed_incomplete_record_followed_by_records_is_a_damaged_length(write) -> None:
    good = encode_record(b"next", 1)
    wrong_length = bytearray(encode_record(b"abc", 1))
    wrong_length[4] = 200  # the length now runs past everything
    data = bytes(wrong_length) + good
    fd = write(data)
    assert read_next(fd, 0, len(data)) == Corrupt(0, len(wrong_length))
    # while the segment is written, it may still be completed: nothing is skipped
    assert read_next(fd, 0, len(data), sealed=False) is None


def test_after_damage_an_incomplete_record_ends_the_search_only_while_written(write) -> None:
    torn = encode_record(b"torn tail", 1)[:-3]
    data = b"junk" + torn
    fd = write(data)
    assert read_next(fd, 0, len(data), sealed=False) == Corrupt(0, 4)
    assert read_next(fd, 4, len(data), sealed=False) is None
    assert read_next(fd, 0, len(data)) == Corrupt(0, len(data))


def test_an_incomplete_record_with_nothing_valid_after_it_is_left_as_a_torn_tail(write) -> None:
    torn = encode_record(b"torn", 1)[:-1]
    data = torn + b"more junk"
    fd = write(data)
    assert read_next(fd, 0, len(torn)) is None
    wrong_length = bytearray(encode_record(b"abc", 1))
    wrong_length[4] = 200
    fd = write(bytes(wrong_length) + b"junk, no record")
    assert read_next(fd, 0, len(wrong_length) + 15) is None


@pytest.mark.parametrize("gap", range(1, 20))
def test_the_search_finds_a_record_wherever_the_scan_windows_split_it(
    write, monkeypatch: pytest.MonkeyPatch, gap: int
) -> None:
    monkeypatch.setattr(segment, "_WINDOW", 8)
    good = encode_record(b"found", 1)
    data = b"\x00" * gap + good
    fd = write(data)
    assert read_next(fd, 0, len(data)) == Corrupt(0, gap)
    assert read_next(fd, 0, len(data), sealed=False) == Corrupt(0, gap)


def test_a_sync_at_the_limit_is_not_looked_at(write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segment, "_WINDOW", 8)
    data = b"\x00" * 13 + encode_record(b"beyond", 1)
    fd = write(data)
    for limit in (11, 12, 13):
        assert read_next(fd, 0, limit, sealed=False) == Corrupt(0, limit), limit
        assert read_next(fd, 0, limit) == Corrupt(0, limit), limit


def test_a_sync_just_before_the_limit_is_a_record_still_being_written(write) -> None:
    data = b"\x00" * 5 + encode_record(b"being written", 1)
    fd = write(data)
    for limit in (6, 7, 8, 9, 10, 5 + HEADER + 3):
        assert read_next(fd, 0, limit, sealed=False) == Corrupt(0, 5), limit
        assert read_next(fd, 0, limit) == Corrupt(0, limit), limit


def test_a_partial_header_past_the_start_is_judged_by_its_own_bytes_only(write) -> None:
    fd = write(b"\x00" * 5 + SYNC[:2] + b"zz" + b"\0" * 40)
    assert read_next(fd, 5, 7, sealed=False) is None


def test_damage_in_a_file_shorter_than_the_limit_runs_to_the_limit(
    write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment, "_WINDOW", 8)  # the scan reaches the end of the file
    fd = write(b"garbage!" * 2)
    assert read_next(fd, 0, 40) == Corrupt(0, 40)
    assert read_next(fd, 0, 40, sealed=False) == Corrupt(0, 40)


def test_the_search_tries_every_sync_in_order(write) -> None:
    fake = SYNC + b"\xff" * 12
    a, b = encode_record(b"a", 1), encode_record(b"b", 1)
    data = b"junk" + fake + a + b
    fd = write(data)
    assert read_next(fd, 0, len(data)) == Corrupt(0, 4 + len(fake))
