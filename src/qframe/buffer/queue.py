"""A delivering handler's disk buffer: encoded items go to disk, then to the destination.

``put`` writes the items of one input batch as one record (payload: each item as u32
length + bytes, the destination's own encoding, so draining a backlog costs no
re-encoding) and keeps the batch's messages unacknowledged until a group ``fsync``
(every ``fsync-interval``) made the record durable.  Messages whose delivery token is
``end_to_end`` (the nats collector's, unless ``ack-on: buffered``) are acknowledged only
once the destination confirmed their record (the watermark passed it): their source
keeps the replicated copy until then.  A reader streams records from disk
into the handler's batches (``max-pending`` bounds what is in memory); each item's
delivery token is its record's :class:`RecordToken`, so the handler's usual ``ack`` of
confirmed items counts them down, and the watermark moves over records whose items are
all confirmed (or dead-lettered), in order.

A write or fsync that fails (a full disk, a read-only file system) makes the handler
``degraded`` with the reason; ``put`` waits and tries again every second, so input backs
up (nothing is acknowledged that is not on disk) and recovers by itself.
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections import deque
from collections.abc import Iterable
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..message import Message
from ..plugin import ack
from .options import METRICS, BufferOptions
from .segment import Corrupt
from .store import BufferLocked, DiskStore, Pos

if TYPE_CHECKING:
    from ..plugin import Handler

    class BufferedHandler(Handler):
        """What the queue uses of its handler (the delivering handlers and nats)."""

        _pending: int
        _max_pending: int
        _room: asyncio.Event

        def _buffer_feed(self, payload: bytes, token: Any) -> int: ...
        def _buffer_flush(self) -> None: ...


__all__ = ["METRICS", "DiskQueue", "RecordToken", "buffer_path", "pack_items", "unpack_items"]

_U32 = struct.Struct("<I")
_get_ack = attrgetter("ack")
#: a record holds the items of one input batch, or this much of them
RECORD_BYTES = 2**20
#: queues open in this process by path (a reloaded handler waits for its predecessor)
_OPEN: dict[Path, DiskQueue] = {}


def buffer_path(data_dir: Path, handler: str) -> Path:
    """Where the disk buffer of the handler instance ``handler`` lives."""
    return Path(data_dir) / f"handler.{handler}" / "buffer"


def pack_items(datas: Iterable[bytes]) -> bytes:
    pack = _U32.pack
    return b"".join([pack(len(d)) + d for d in datas])


def unpack_items(payload: bytes) -> list[bytes]:
    out = []
    mv = memoryview(payload)
    pos, end = 0, len(payload)
    unpack = _U32.unpack_from
    while pos < end:
        (n,) = unpack(payload, pos)
        pos += 4
        out.append(bytes(mv[pos : pos + n]))
        pos += n
    return out


class RecordToken:
    """The delivery token of a replayed record's items (``ack`` calls ``done``)."""

    __slots__ = ("ack", "events", "left", "pos", "queue")

    def __init__(self, queue: DiskQueue, pos: Pos, events: int) -> None:
        self.queue = queue
        self.pos = pos
        self.events = events
        self.left = events
        self.ack = self  # the item's "message": plugin.ack reads .ack

    def done(self, n: int) -> None:
        self.left -= n
        if self.left <= 0:
            self.queue._advance()


class DiskQueue:
    def __init__(self, handler: BufferedHandler, options: BufferOptions) -> None:
        self.h = handler
        self.o = options
        self.path = Path()
        self.store = DiskStore(self.path)
        self._unsynced: list[Message] = []
        #: end-to-end messages by the end of their record, in append order: acknowledged
        #: when the watermark passes it (see RecordToken / _advance)
        self._held: deque[tuple[Pos, list[Message]]] = deque()
        self._tokens: deque[RecordToken] = deque()
        self._more = asyncio.Event()
        self._space = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._opened = False
        self._cursor: Any = None
        self._error = ""
        self._closing = False
        #: of kept(), what a predecessor (a reload) reported already
        self.kept_before = 0
        self._reader: asyncio.Task[None] | None = None

    # -- life -------------------------------------------------------------------------------
    async def open(self, path: Path) -> None:
        self.path = path
        seg = min(32 * 2**20, max(2**16, self.o.max_bytes // 8))
        self.store = DiskStore(path, segment_bytes=seg)
        prev = _OPEN.get(self.path)
        if prev is not None:  # a reload: the previous instance is stopping
            for _ in range(200):
                if _OPEN.get(self.path) is not prev:
                    break
                await asyncio.sleep(0.05)
        try:
            rep = self.store.open()
        except BufferLocked:
            raise
        except OSError as exc:  # read-only or full: degraded, opened when it can be
            self._failed("open", exc)
            self._tasks.append(asyncio.ensure_future(self._open_later()))
            return
        self._opened_now(rep)

    async def _open_later(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                rep = self.store.open()
            except OSError as exc:
                self._failed("open", exc)
                continue
            self._opened_now(rep)
            return

    def _opened_now(self, rep: Any) -> None:
        _OPEN[self.path] = self
        self._opened = True
        log = self.h.log
        if rep.unknown:
            log.warning("disk buffer %s: unknown files left alone: %s", self.path, rep.unknown)
        if rep.torn_bytes:
            log.warning("disk buffer %s: torn tail of %d bytes cut", self.path, rep.torn_bytes)
        if rep.corrupt:
            self.h.metrics.inc("disk_buffer_corrupt", rep.corrupt)
            log.error("disk buffer %s: %d damaged records skipped", self.path, rep.corrupt)
        if rep.watermark_lost:
            log.error("disk buffer %s: confirmed watermark unreadable: replaying all", self.path)
        n = self.store.backlog_events()
        if n:
            log.info(
                "disk buffer %s: %d messages (%d bytes) to send", self.path, n, self.store.bytes
            )
        self._cursor = self.store.reader()
        self._recovered()
        self._gauges()
        self._more.set()
        self._tasks.append(asyncio.ensure_future(self._sync_loop()))
        self._reader = asyncio.ensure_future(self._read_loop())
        self._tasks.append(self._reader)

    async def stop_reading(self) -> None:
        self._closing = True
        self._space.set()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if not self._opened:
            return
        try:
            self._sync_now()
        except OSError as exc:
            self.h.log.error("disk buffer %s: final fsync failed: %s", self.path, exc)
        self.store.close()
        if self._cursor is not None:
            self._cursor.close()
        self._gauges()
        if _OPEN.get(self.path) is self:
            del _OPEN[self.path]
        self._opened = False

    @property
    def error(self) -> str:
        """Why the buffer cannot be written now ("" when it can)."""
        return self._error

    def kept(self) -> int:
        return self.store.backlog_events()

    # -- input ------------------------------------------------------------------------------
    async def put(self, batch: list[Message], datas: list[bytes]) -> None:
        """Write ``datas`` as records of at most about ``RECORD_BYTES``; ``batch`` is
        acknowledged once they are durable (not at all when stopping first)."""
        hold = _end_to_end(batch) and len(batch) == len(datas)  # (item i: message i)
        start, size = 0, 0
        for i, d in enumerate(datas):
            size += len(d) + 4
            if size >= RECORD_BYTES:
                part = batch[start : i + 1] if hold else None
                if not await self._put(datas[start : i + 1], batch, part):
                    return
                start, size = i + 1, 0
        if start < len(datas):
            part = batch[start:] if hold else None
            if not await self._put(datas[start:], batch, part):
                return
        if hold:
            self._unsynced.extend([m for m in batch if not _holds(m)])
        else:
            self._unsynced.extend(batch)
        self._more.set()

    async def put_record(self, payload: bytes, events: int, batch: list[Message]) -> None:
        """Write one record of ``events`` messages; ``batch`` is acknowledged once durable
        (its end-to-end messages once the record is confirmed)."""
        hold = _end_to_end(batch)
        if await self._write(payload, events, batch, batch if hold else None):
            if hold:
                self._unsynced.extend([m for m in batch if not _holds(m)])
            else:
                self._unsynced.extend(batch)
            self._more.set()

    async def _put(
        self, datas: list[bytes], batch: list[Message], part: list[Message] | None
    ) -> bool:
        return await self._write(pack_items(datas), len(datas), batch, part)

    async def _write(
        self,
        payload: bytes,
        events: int,
        batch: list[Message],
        part: list[Message] | None = None,
    ) -> bool:
        """Append one record; ``part``: its messages, of which the end-to-end ones are
        held until the record is confirmed."""
        need = len(payload) + 16
        while not self._closing:  # (stopping: what could not be written is not acknowledged)
            if self._opened:
                if self.store.bytes + need > self.o.max_bytes and self.store.bytes > 0:
                    if self.o.when_full == "drop-newest":
                        self.h.drop(batch, "buffer_full")
                        return False
                    self.h.set_health("degraded", f"disk buffer full ({self.o.max_bytes} bytes)")
                    self._space.clear()
                    self._more.set()
                    await self._space.wait()
                    continue
                try:
                    end = self.store.append(payload, events)
                except OSError as exc:
                    self._failed("write", exc)
                    self._more.set()
                else:
                    if part is not None:
                        held = [m for m in part if _holds(m)]
                        if held:
                            self._held.append((end, held))
                    self._recovered()
                    self.h.metrics.inc("disk_buffer_written", events)
                    self._more.set()
                    return True
            await asyncio.sleep(1.0)
        return False

    def _failed(self, what: str, exc: OSError) -> None:
        reason = f"disk buffer {what}: {exc.strerror or exc}"
        self._error = reason
        self.h.metrics.inc("disk_buffer_errors", reason=(exc.strerror or what)[:40])
        self.h.set_health("degraded", reason)
        self.h.warn_limited("disk_buffer", "%s (%s): waiting", reason, self.path, every=5.0)

    def _recovered(self) -> None:
        if self._error or self.h.metrics.state_reason.startswith("disk buffer"):
            self._error = ""
            self.h.set_health("ok")

    # -- durability ---------------------------------------------------------------------------
    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.o.fsync_interval)
            st = self.store
            msgs, self._unsynced = self._unsynced, []
            head, size, dirty = st.head, st.segments[st.head], st._dir_dirty
            fd = os.dup(st._fd)
            try:
                await asyncio.to_thread(_fsync, fd, st.path if dirty else None)
            except OSError as exc:
                self._unsynced[:0] = msgs
                self._failed("fsync", exc)
                continue
            finally:
                os.close(fd)
            if st.head == head:
                st.synced = max(st.synced, size)
                if dirty:
                    st._dir_dirty = False
            ack(msgs)
            self._persist()

    def _sync_now(self) -> None:
        self.store.sync()
        msgs, self._unsynced = self._unsynced, []
        ack(msgs)
        self._persist()

    def _persist(self) -> None:
        try:
            self.store.persist(reclaim=bool(self._error) or not self._space.is_set())
        except OSError as exc:
            self._failed("watermark", exc)
        if self.store.bytes < self.o.max_bytes:
            self._space.set()
            if self.h.metrics.state_reason.startswith("disk buffer full"):
                self.h.set_health("ok")
        self._gauges()

    def _gauges(self) -> None:
        m = self.h.metrics
        m.set_gauge("disk_buffer_events", self.store.backlog_events())
        m.set_gauge("disk_buffer_bytes", self.store.bytes)

    # -- output -----------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        h = self.h
        cur = self._cursor
        while True:
            if h._pending >= h._max_pending:
                h._room.clear()
                await h._room.wait()
                continue
            r = cur.next()
            if r is None:
                h._buffer_flush()
                self._more.clear()
                await self._more.wait()
                continue
            if isinstance(r, Corrupt):
                h.metrics.inc("disk_buffer_corrupt")
                h.log.error(
                    "disk buffer %s: damaged record, %d bytes skipped (segment %d at %d)",
                    self.path,
                    r.end - r.pos,
                    cur.seg,
                    r.pos,
                )
                continue
            tok = RecordToken(self, (cur.seg, r.end), r.events)
            self._tokens.append(tok)
            try:
                fed = h._buffer_feed(r.payload, tok)
            except Exception as exc:  # a record this handler cannot read: lost, counted
                h.metrics.inc("disk_buffer_corrupt")
                h.log.error("disk buffer %s: record not readable: %r", self.path, exc)
                fed = 0
            if fed < r.events:
                tok.done(r.events - fed)
            await asyncio.sleep(0)

    def _advance(self) -> None:
        toks = self._tokens
        st = self.store
        while toks and toks[0].left <= 0:
            t = toks.popleft()
            st.confirm(t.pos, t.events)
        held = self._held
        if held:  # end-to-end messages whose records the watermark passed (or skipped)
            mark = st.watermark
            while held and held[0][0] <= mark:
                ack(held.popleft()[1])


def _holds(m: Message) -> bool:
    return getattr(m.ack, "end_to_end", False) is True


def _end_to_end(batch: list[Message]) -> bool:
    """Any message of the batch with an end-to-end token (tokens are shared by runs of a
    collector's batch: the distinct ones are few)."""
    return any(getattr(t, "end_to_end", False) is True for t in set(map(_get_ack, batch)))


def _fsync(fd: int, directory: Path | None) -> None:
    os.fsync(fd)
    if directory is not None:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
