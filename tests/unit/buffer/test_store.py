"""Damaged segments, the lock, the format version, unknown files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qframe.buffer.segment import Corrupt, Record
from qframe.buffer.store import BufferLocked, DiskStore, FormatError, seg_name


def filled(d: Path, n: int = 10, seg: int = 10_000) -> DiskStore:
    s = DiskStore(d, segment_bytes=seg)
    s.open()
    for i in range(n):
        s.append(f"payload-{i:03d}".encode() * 3, 3)
    s.sync()
    return s


def read(s: DiskStore) -> tuple[list[bytes], int]:
    cur = s.reader()
    got, bad = [], 0
    while (r := cur.next()) is not None:
        if isinstance(r, Record):
            got.append(r.payload[:11])
        else:
            assert isinstance(r, Corrupt)
            bad += 1
    cur.close()
    return got, bad


def test_bit_flip_skips_one_record_and_counts_it(tmp_path: Path) -> None:
    s = filled(tmp_path)
    s.append(b"x", 1)  # the damaged segment is not the head: read, not cut
    s._roll()
    s.append(b"tail", 1)
    s.close()
    path = tmp_path / seg_name(1)
    data = bytearray(path.read_bytes())
    rec = 16 + 33  # header + payload
    data[rec * 4 + 20] ^= 0x10  # a payload byte of the 5th record
    data[rec * 7 + 5] ^= 0x01  # the length of the 8th
    path.write_bytes(bytes(data))
    s = DiskStore(tmp_path, segment_bytes=10_000)
    s.open()
    got, bad = read(s)
    assert bad == 2
    assert b"payload-004" not in got and b"payload-007" not in got
    assert got[-4:] == [b"payload-008", b"payload-009", b"x", b"tail"], got
    s.close()


def test_torn_tail_and_garbage_are_cut_at_start(tmp_path: Path) -> None:
    s = filled(tmp_path)
    s.close(persist=False)
    path = tmp_path / seg_name(1)
    size = path.stat().st_size
    os.truncate(path, size - 7)  # the last record torn
    s = DiskStore(tmp_path)
    rep = s.open()
    assert rep.torn_bytes > 0 and rep.corrupt == 0
    got, bad = read(s)
    assert len(got) == 9 and bad == 0
    s.append(b"after", 1)
    s.close()
    with open(path, "ab") as f:
        f.write(os.urandom(300))  # garbage appended
    s = DiskStore(tmp_path)
    rep = s.open()
    assert rep.torn_bytes >= 300
    got, bad = read(s)
    assert got[-1] == b"after" and bad == 0
    s.close()


def test_second_user_refused_and_unknown_files_reported(tmp_path: Path) -> None:
    s = filled(tmp_path, 1)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BufferLocked, match="in use by another qframe"):
        DiskStore(tmp_path).open()
    s.close()
    s = DiskStore(tmp_path)
    assert s.open().unknown == ["notes.txt"]
    s.close()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "FORMAT").write_text("qframe-disk-buffer 9\n")
    with pytest.raises(FormatError, match="disk-buffer 9"):
        DiskStore(tmp_path).open()


def test_confirmed_segments_deleted_and_watermark_survives(tmp_path: Path) -> None:
    s = filled(tmp_path, 30, seg=200)
    assert len(s.segments) > 3
    cur = s.reader()
    recs = [cur.next() for _ in range(20)]
    cur.close()
    last = recs[-1]
    assert isinstance(last, Record)
    s.confirm((_seg_of(s, last), last.end), 60)
    s.persist()
    s.close()
    s = DiskStore(tmp_path, segment_bytes=200)
    s.open()
    got, _ = read(s)
    assert got[0] == b"payload-020" and len(got) == 10
    assert s.backlog_events() == 30
    s.close()


def _seg_of(s: DiskStore, rec: Record) -> int:
    cur = s.reader()
    while (r := cur.next()) is not None:
        if isinstance(r, Record) and r.payload == rec.payload:
            n = cur.seg
            cur.close()
            return n
    raise AssertionError


def test_records_after_a_watermark_past_the_data_are_not_skipped(tmp_path: Path) -> None:
    """A record confirmed and its watermark persisted, then the record's unsynced bytes lost
    (a power cut): the watermark lies past the data, and new records must not go behind it
    (found by the property test)."""
    store = DiskStore(tmp_path, segment_bytes=40)
    store.open()
    first = store.append(b"rec-1-rec-1-", 1)
    store.append(b"rec-2-" * 3, 1)
    store.confirm(first, 1)
    store.persist()
    head, synced = store.head, store.synced
    store.close(persist=False)
    os.truncate(tmp_path / seg_name(head), synced)
    store = DiskStore(tmp_path, segment_bytes=40)
    store.open()
    store.append(b"rec-3-", 1)
    store.close()
    store = DiskStore(tmp_path, segment_bytes=40)
    store.open()
    cur = store.reader()
    got = []
    while (r := cur.next()) is not None:
        got.append(r.payload)
    cur.close()
    store.close()
    assert got == [b"rec-3-"]
