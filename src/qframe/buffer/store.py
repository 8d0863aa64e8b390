"""A disk buffer's directory: segments, the confirmed watermark, the format and the lock.

Layout of the directory (one per handler instance)::

    FORMAT                 "qframe-disk-buffer 1" (the directory's format version)
    LOCK                   flock'd by the qframe that uses the buffer
    confirmed              the watermark: segment, offset (and a CRC), replaced atomically
    0000000000000001.seg   segments (see :mod:`.segment`), appended to, never rewritten

Everything before the watermark was confirmed by the destination; a segment wholly behind
it is deleted.  :meth:`DiskStore.append` writes a record (no fsync); :meth:`sync` makes
what was written durable; :meth:`persist` writes the watermark and deletes segments.  At
:meth:`open` the last segment is checked record by record: a torn tail is cut off, the
other segments are only walked header by header (their records are checked when read),
so a large backlog opens at once.  Files the buffer does not know are left alone and
reported.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .segment import HEADER, Corrupt, Record, encode_record, read_next

__all__ = ["BufferLocked", "DiskStore", "FormatError", "OpenReport", "Pos"]

FORMAT_LINE = "qframe-disk-buffer 1\n"
_SEG = re.compile(r"^([0-9a-f]{16})\.seg$")
_KNOWN = {"FORMAT", "LOCK", "confirmed", "confirmed.tmp"}
_MARK = struct.Struct("<QQI")

#: (segment number, offset in it)
Pos = tuple[int, int]


class BufferLocked(RuntimeError):
    """Another process holds the buffer's lock."""


class FormatError(RuntimeError):
    """The directory is of a format this qframe cannot read."""


@dataclass
class OpenReport:
    corrupt: int = 0  # damaged spans found at open (those the reader will not see)
    torn_bytes: int = 0  # cut off the end of the last segment
    unknown: list[str] = field(default_factory=list)
    watermark_lost: bool = False


def seg_name(n: int) -> str:
    return f"{n:016x}.seg"


class DiskStore:
    """The segments of one buffer (blocking calls; the caller decides where they run)."""

    def __init__(self, path: Path, segment_bytes: int = 32 * 2**20) -> None:
        self.path = Path(path)
        self.segment_bytes = segment_bytes
        self._lock_fd = -1
        self._fd = -1  # the segment being written
        self.segments: dict[int, int] = {}  # number → size (written)
        self.events: dict[int, int] = {}  # number → events in its records (header walk)
        self.head = 0  # the segment being written
        self.synced = 0  # bytes of the head segment known durable
        self.watermark: Pos = (1, 0)
        self._persisted: Pos = (1, 0)
        self._dir_dirty = False

    # -- open / close ---------------------------------------------------------------------
    def open(self) -> OpenReport:
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            return self._open()
        except BaseException:
            self.close(persist=False)
            raise

    def _open(self) -> OpenReport:
        rep = OpenReport()
        self.segments, self.events = {}, {}
        fmt = self.path / "FORMAT"
        if fmt.exists():
            text = fmt.read_text(errors="replace")
            if text != FORMAT_LINE:
                raise FormatError(
                    f"{self.path}: format {text.strip()[:60]!r} is not {FORMAT_LINE.strip()!r}"
                )
        else:
            self._write_atomic("FORMAT", FORMAT_LINE.encode())
        for p in sorted(self.path.iterdir()):
            m = _SEG.match(p.name)
            if m:
                self.segments[int(m.group(1), 16)] = p.stat().st_size
            elif p.name not in _KNOWN:
                rep.unknown.append(p.name)
        self.watermark = self._read_mark(rep)
        first = min(self.segments, default=self.watermark[0])
        if self.watermark[0] < first:
            self.watermark = (first, 0)
        for n in [n for n in self.segments if n < self.watermark[0]]:
            self._unlink(n)  # confirmed before the crash, not yet deleted
        self._persisted = self.watermark
        if self.segments:
            self.head = max(self.segments)
            self._recover_head(rep)
        else:
            self.head = max(self.watermark[0], 1)
            self.segments[self.head] = 0
            self.events[self.head] = 0
        if self.watermark > (self.head, self.segments[self.head]):
            # the watermark lies past the data left (records the destination confirmed
            # were lost unsynced, e.g. a power cut): new records go to a new segment after
            # it, never behind it, where the reader would skip them as confirmed
            self.head = max(self.head, self.watermark[0]) + 1
            self.segments[self.head] = 0
            self.events[self.head] = 0
        for n in self.segments:
            if n != self.head:
                self.events[n] = self._walk(n)
        self._fd = os.open(self.path / seg_name(self.head), os.O_WRONLY | os.O_CREAT, 0o644)
        os.lseek(self._fd, self.segments[self.head], os.SEEK_SET)
        self.synced = self.segments[self.head]
        self._dir_dirty = True
        self.sync()
        return rep

    def _lock(self) -> None:
        fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise BufferLocked(
                    f"disk buffer {self.path} is in use by another qframe "
                    "(two instances cannot share a data-dir)"
                ) from None
            raise
        self._lock_fd = fd

    def _read_mark(self, rep: OpenReport) -> Pos:
        try:
            data = (self.path / "confirmed").read_bytes()
        except FileNotFoundError:
            return (1, 0)
        if len(data) == _MARK.size:
            seg, off, crc = _MARK.unpack(data)
            if zlib.crc32(data[:16]) == crc:
                return (seg, off)
        rep.watermark_lost = True  # replay from the first segment: ids absorb the repeat
        return (0, 0)

    def _recover_head(self, rep: OpenReport) -> None:
        n = self.head
        size = self.segments[n]
        start = self.watermark[1] if self.watermark[0] == n else 0
        fd = os.open(self.path / seg_name(n), os.O_RDONLY)
        events = 0
        pos = good = 0
        try:
            while True:
                r = read_next(fd, pos, size)
                if r is None:
                    break
                if isinstance(r, Corrupt):  # counted by the reader when it gets there
                    pos = r.end
                    continue
                if r.pos >= start:
                    events += r.events
                pos = good = r.end
        finally:
            os.close(fd)
        if good < size:
            rep.torn_bytes = size - good
            os.truncate(self.path / seg_name(n), good)
            self.segments[n] = good
        self.events[n] = events

    def _walk(self, n: int) -> int:
        """Events in a segment's records, from their headers (not verified here)."""
        start = self.watermark[1] if self.watermark[0] == n else 0
        total = 0
        size = self.segments[n]
        with open(self.path / seg_name(n), "rb") as f:
            pos = start
            while pos + HEADER <= size:
                f.seek(pos)
                head = f.read(HEADER)
                sync, length, events, _ = struct.unpack("<4sIII", head)
                if sync != b"\xfe\xc1\xf5\xff":
                    break  # damage: the reader will find it and count it
                total += events
                pos += HEADER + length
        return total

    def close(self, persist: bool = True) -> None:
        if self._fd >= 0:
            if persist:
                try:
                    self.sync()
                    self.persist()
                except OSError:
                    pass
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- writing --------------------------------------------------------------------------
    def append(self, payload: bytes, events: int) -> Pos:
        """Write one record (not synced); its end position.  On an error nothing of it
        stays (the segment is cut back) and the OSError is raised."""
        if self.segments[self.head] >= self.segment_bytes:
            self._roll()
        data = encode_record(payload, events)
        at = self.segments[self.head]
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (short write)")
        except OSError:
            try:
                os.ftruncate(self._fd, at)
                os.lseek(self._fd, at, os.SEEK_SET)
            except OSError:
                pass
            raise
        self.segments[self.head] = at + len(data)
        self.events[self.head] += events
        return (self.head, at + len(data))

    def _roll(self) -> None:
        os.fsync(self._fd)
        nxt = self.head + 1
        fd = os.open(self.path / seg_name(nxt), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.close(self._fd)
        self._fd = fd
        self.head = nxt
        self.segments[nxt] = 0
        self.events[nxt] = 0
        self.synced = 0
        self._dir_dirty = True

    def sync(self) -> None:
        """Make every appended record durable."""
        size = self.segments[self.head]
        if size != self.synced or self._dir_dirty:
            os.fsync(self._fd)
            if self._dir_dirty:
                self._fsync_dir()
            self.synced = size

    def _fsync_dir(self) -> None:
        dfd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._dir_dirty = False

    # -- confirming -----------------------------------------------------------------------
    def confirm(self, pos: Pos, events: int = 0) -> None:
        """Everything up to ``pos`` (a record's end, ``events`` in it) was confirmed."""
        if pos > self.watermark:
            self.watermark = pos
        if pos[0] in self.events:
            self.events[pos[0]] = max(0, self.events[pos[0]] - events)
        if pos[0] == self.head and pos[1] >= self.segments[self.head]:
            for n in self.events:  # all confirmed: what damage hid from the count is gone
                self.events[n] = 0

    def persist(self, reclaim: bool = False) -> None:
        """Delete the segments behind the watermark, then write it (atomically).

        Deleting first is safe (a deleted segment was wholly confirmed; a watermark in an
        older, missing segment means the first one that is left) and frees space on a full
        disk before anything is written.  ``reclaim``: a wholly confirmed head segment is
        closed and deleted too, however small (a full disk or buffer).
        """
        wm = self.watermark
        if wm == self._persisted:
            return
        seg, off = wm
        whole = seg == self.head and off >= self.segments[seg]
        if whole and off > 0 and (reclaim or off >= self.segment_bytes // 2):
            self._roll()
            seg, off = wm = self.watermark = (self.head, 0)
        for n in [n for n in self.segments if n < seg]:
            self._unlink(n)
        packed = _MARK.pack(seg, off, 0)[:16]
        self._write_atomic("confirmed", packed + struct.pack("<I", zlib.crc32(packed)))
        self._persisted = wm

    def _unlink(self, n: int) -> None:
        try:
            os.unlink(self.path / seg_name(n))
        except FileNotFoundError:
            pass
        self.segments.pop(n, None)
        self.events.pop(n, None)

    def _write_atomic(self, name: str, data: bytes) -> None:
        tmp = self.path / (name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path / name)
        self._fsync_dir()

    # -- reading --------------------------------------------------------------------------
    @property
    def bytes(self) -> int:
        return sum(self.segments.values())

    def backlog_events(self) -> int:
        return sum(self.events.values())

    def reader(self) -> SegmentCursor:
        return SegmentCursor(self, self.watermark)


class SegmentCursor:
    """Reads records from a position on, across segments, up to what was written."""

    def __init__(self, store: DiskStore, pos: Pos) -> None:
        self.store = store
        self.seg, self.off = pos
        self._fd = -1
        self._fd_seg = -1

    def next(self) -> Record | Corrupt | None:
        """The next record (or damaged span); None when everything written was read."""
        st = self.store
        while True:
            if self.seg not in st.segments:
                later = [n for n in st.segments if n > self.seg]
                if not later:
                    return None
                self.seg, self.off = min(later), 0
            limit = st.segments[self.seg]
            if self._fd_seg != self.seg:
                self.close()
                self._fd = os.open(st.path / seg_name(self.seg), os.O_RDONLY)
                self._fd_seg = self.seg
            r = read_next(self._fd, self.off, limit, sealed=self.seg != st.head)
            if r is not None:
                self.off = r.end
                return r
            if self.seg == st.head:
                return None
            if self.off < limit:  # an incomplete record in a sealed segment: damage
                r = Corrupt(self.off, limit)
                self.off = limit
                return r
            self.seg, self.off = self.seg + 1, 0

    @property
    def pos(self) -> Pos:
        return (self.seg, self.off)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._fd_seg = -1
