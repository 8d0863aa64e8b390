"""The record format of disk-buffer segments.

A segment is a file of records, one after the other, nothing else::

    SYNC (4 bytes) | length (u32 LE) | events (u32 LE) | crc32 (u32 LE) | payload (length bytes)

``crc32`` (zlib's CRC-32) covers length, events and the payload, so a damaged length is
caught too.  ``SYNC`` is made of bytes that never occur in UTF-8 text: after a damaged
header, the reader looks for the next ``SYNC`` whose record checks out and goes on from
there; what lay between is lost (counted once).  A record that runs past the end of the
data is *incomplete*: at the end of the segment being written it is a torn tail (a crash
mid-write), cut off at start-up.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "HEADER",
    "MAX_RECORD",
    "SYNC",
    "Corrupt",
    "Record",
    "encode_record",
    "read_next",
]

SYNC = b"\xfe\xc1\xf5\xff"
_HEAD = struct.Struct("<4sIII")
HEADER = _HEAD.size
_LC = struct.Struct("<II")
#: the largest payload accepted (a bigger length is damage)
MAX_RECORD = 256 * 2**20
_WINDOW = 2**20


def encode_record(payload: bytes, events: int) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(_LC.pack(len(payload), events)))
    return _HEAD.pack(SYNC, len(payload), events, crc) + payload


@dataclass(slots=True)
class Record:
    pos: int
    end: int
    events: int
    payload: bytes


@dataclass(slots=True)
class Corrupt:
    """Bytes ``pos``..``end`` hold no valid record (skipped, counted once)."""

    pos: int
    end: int


def _check(fd: int, pos: int, limit: int) -> Record | bool | None:
    """The record at ``pos``: a Record, None when it is incomplete before ``limit``, False
    when it is damaged."""
    if pos + HEADER > limit:
        head = os.pread(fd, limit - pos, pos)
        return None if SYNC.startswith(head[:4]) else False
    head = os.pread(fd, HEADER, pos)
    if len(head) < HEADER:
        return None
    sync, length, events, crc = _HEAD.unpack(head)
    if sync != SYNC or length > MAX_RECORD:
        return False
    end = pos + HEADER + length
    if end > limit:
        return None
    payload = os.pread(fd, length, pos + HEADER)
    if len(payload) < length:
        return None
    if zlib.crc32(payload, zlib.crc32(head[4:12])) != crc:
        return False
    return Record(pos, end, events, payload)


def read_next(fd: int, pos: int, limit: int, sealed: bool = True) -> Record | Corrupt | None:
    """The next record of the segment open as ``fd`` from ``pos``, reading no further than
    ``limit``: a Record; a Corrupt span (after which the next valid record begins, or
    ``limit`` when none does); None at ``limit`` or when what is left is one incomplete
    record.  In a ``sealed`` segment (nothing is being written past ``limit``) an
    incomplete record followed by valid ones is a damaged length, skipped like any damage.
    """
    if pos >= limit:
        return None
    r = _check(fd, pos, limit)
    if r is not False and (r is not None or not sealed):
        return r
    incomplete = r is None
    # the next SYNC that starts a valid record (or, being written, an incomplete one)
    at = pos + 1
    while at < limit:
        window = os.pread(fd, min(_WINDOW, limit - at) + len(SYNC) - 1, at)
        if not window:
            break
        i = window.find(SYNC)
        while i != -1:
            cand = _check(fd, at + i, limit)
            if isinstance(cand, Record) or (cand is None and not sealed):
                return Corrupt(pos, at + i)
            i = window.find(SYNC, i + 1)
        at += _WINDOW
    return None if incomplete else Corrupt(pos, limit)
