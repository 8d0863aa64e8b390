"""One open file: read in large chunks, split lines in bulk, emit batches with delivery tokens.

The tailer keeps its file descriptor open, so a file renamed or deleted under it is
still read to its end.  At each end of file it checks (``poll-interval``):

- truncation (``copytruncate``): the size fell below the read position, or the first
  bytes no longer match the fingerprint → the file gets a new identity, reading
  restarts at 0;
- detachment: the path no longer names this file (renamed, deleted) → discovery is
  woken to pick up the new file at once;
- inactivity: no growth for ``close-inactive`` → the file is closed (a detached file's
  unterminated last line is sent first; an attached file is reopened by discovery from
  where it stopped when it grows).
"""

from __future__ import annotations

import asyncio
import codecs
import os
import time
from typing import TYPE_CHECKING, Any

from ....jsonline import decode_messages
from ....message import Delivery, Message, new_log
from .checkpoint import Progress
from .cri import ContainerLines, Line, ascii_cri, pod_container
from .identity import Identity, read_head
from .multiline import Event, StreamLines
from .rotation import MARGIN, find_copy

if TYPE_CHECKING:
    from .collector import FileCollector

__all__ = ["Tailer"]

TRUNCATED = "_truncated"


class Tailer:
    def __init__(
        self,
        coll: FileCollector,
        path: str,
        fd: int,
        dev: int,
        ino: int,
        progress: Progress | None,
        start: int,
        home: str = "",
    ) -> None:
        o = coll.options
        self.coll = coll
        self.path = path
        self.home = home or path  # the watched path its record belongs to
        self.fd = fd
        self.dev = dev
        self.ino = ino
        self.progress = progress
        self.pos = start  # offset of the next byte read
        self.buf = b""  # an unterminated line, starting at buf_off
        self.buf_off = start
        self.skip = False  # dropping the rest of an over-long line ...
        self.hold: int | None = None  # ... which started here (its head was sent)
        self.detached = False
        self.last_growth = time.monotonic()
        self.limit: int = o.max_line_bytes
        self.encoding: str = o.encoding
        # one joiner per stream (a container log file's stdout and stderr never join)
        self.mline = StreamLines(o.multiline) if o.multiline is not None else None
        self.cri: ContainerLines | None = None
        if o.format in ("cri", "docker-json"):
            self.cri = ContainerLines(o.format, o.max_line_bytes)
            self.container = pod_container(path)
        self.task: asyncio.Task[None] | None = None
        self.gate: asyncio.Event | None = None  # reading starts when it is set
        self.caught_up = asyncio.Event()  # set at the first end of file (or at the end)
        self.started = False
        self.checked_at = time.time()  # when the file was last found as expected
        self._clean = False  # a read succeeded since the tailer started
        self._waiter: asyncio.Future[None] | None = None
        self._id_prefix = ""
        if progress is not None:
            self._id_prefix = progress.identity.uid + "-"
        os.lseek(fd, start, os.SEEK_SET)

    def __repr__(self) -> str:
        return f"<Tailer {self.path} @{self.pos}>"

    # -- the loop ---------------------------------------------------------------------
    async def run(self) -> None:
        coll = self.coll
        self.started = True
        try:
            if self.gate is not None:  # an older generation is read first
                await self.gate.wait()
            await self._loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, OSError):
                coll.read_failed((self.dev, self.ino), self.path, exc, "read_error")
            else:  # a bug: logged with its traceback, the file is retried at the next scan
                coll.problem("internal_error", f"{self.path}: {exc!r}", exc)
            if self.progress is not None:  # reopened later from what was sent
                self.progress.read_pos = self._commit_point()
        finally:
            self.caught_up.set()
            coll.closed(self)

    async def _loop(self) -> None:
        o = self.coll.options
        size = o.read_bytes
        poll = o.poll_interval
        fd = self.fd
        read = os.read
        while True:
            data = read(fd, size)
            if data:
                p = self.progress
                if p is not None and not p.identity.matches(read_head(fd, p.identity.fp_len)):
                    # truncated and written again since the last look: the chunk may be new
                    # content read at an old offset; read it again from 0
                    await self._restart()
                    continue
                self.last_growth = time.monotonic()
                self.coll.metrics.inc("bytes", len(data))
                await self._consume(data)
                continue
            if not self._clean:
                self._clean = True
                self.coll.read_ok((self.dev, self.ino))
            self.caught_up.set()
            wait = poll
            if self.cri is not None and self.cri.pieces:
                left = min(p.at for p in self.cri.pieces.values()) + o.partial_timeout
                left -= time.monotonic()
                if left <= 0:
                    await self._flush_pieces(time.monotonic() - o.partial_timeout)
                else:
                    wait = min(wait, left)
            due = self.mline.due() if self.mline is not None else None
            if due is not None:
                left = due - time.monotonic()
                if left <= 0:  # the streams idle for the timeout
                    timeout = o.multiline.timeout if o.multiline is not None else 0.0
                    await self._flush_multiline(time.monotonic() - timeout)
                else:
                    wait = min(wait, left)
            state = self._check()
            if state == "truncated":
                await self._restart()
                continue
            if state == "close":
                await self._finish()
                return
            await self._sleep(wait)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` or until :meth:`wake` (inotify saw a write)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        handle = loop.call_later(seconds, _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._waiter = None

    def wake(self) -> None:
        w = self._waiter
        if w is not None:
            _resolve(w)

    def _check(self) -> str:
        """At end of file: "ok", "truncated" or "close"."""
        st = os.fstat(self.fd)
        if st.st_size < self.pos:
            return "truncated"
        p = self.progress
        if p is not None:
            ident = p.identity
            if not ident.matches(read_head(self.fd, ident.fp_len)):
                return "truncated"
        if not self.detached:
            if st.st_nlink == 0:
                self._detach("deleted")
            else:
                try:
                    ps = os.stat(self.path)
                    if (ps.st_dev, ps.st_ino) != (self.dev, self.ino):
                        self._detach("renamed")
                except FileNotFoundError:
                    self._detach("renamed")
                except OSError:
                    pass
        if time.monotonic() - self.last_growth >= self.coll.options.close_inactive:
            return "close"
        self.checked_at = time.time()
        return "ok"

    def _detach(self, how: str) -> None:
        self.detached = True
        self.coll.metrics.inc("files", event=how)
        self.coll.log.info("%s was %s; reading it to its end", self.path, how)
        self.coll.wake_scan()

    def attach(self, path: str) -> None:
        """Discovery found this file (again) under ``path``."""
        if path != self.path:
            self.coll.log.info("%s is now %s", self.path, path)
            self.coll.moved(self, path)
            self.path = self.home = path
            if self.progress is not None:
                self.progress.path = path
        self.detached = False

    async def _restart(self) -> None:
        """The content was replaced (copytruncate): send what is pending, read from 0."""
        self.coll.metrics.inc("files", event="truncated")
        self.coll.log.info("%s was truncated at %d; reading from its start", self.path, self.pos)
        await self._read_copy()
        if self.progress is not None and not self.detached:
            # copies made by rotations between two looks: read from their start
            self.coll.rotated(self.path, self.checked_at - MARGIN, set())
        await self._flush_pieces(None)
        await self._flush_multiline()
        await self._flush_partial()
        old = self.progress
        if old is not None:
            # the record stays: it names the content now in the copies (read up to here),
            # so a later look at the directory does not take a copy for a new file
            old.read_pos = self.pos
            old.size = max(old.size, self.pos)
        self.progress = None
        self._id_prefix = ""
        self.pos = self.buf_off = 0
        self.buf = b""
        self.skip = False
        self.hold = None
        os.lseek(self.fd, 0, os.SEEK_SET)

    async def _read_copy(self) -> None:
        """Lines we had not read yet when the file was truncated may be in its copy.

        The newest copy (same directory, name starting with this file's name, not
        compressed) whose first bytes match our fingerprint and that is longer than our
        position is read from our position to its end, under the old identity.
        """
        p = self.progress
        if p is None:
            return
        found = find_copy(self.coll, p, self.path, self.pos)
        if found is None:
            return
        copy, fd, _key = found
        own, self.fd = self.fd, fd
        try:
            os.lseek(fd, self.pos, os.SEEK_SET)
            n = 0
            while data := os.read(fd, self.coll.options.read_bytes):
                n += len(data)
                await self._consume(data)
            await self._flush_partial()
            self.coll.metrics.inc("files", event="copy_read")
            self.coll.log.info("read %d more bytes of %s from its copy %s", n, self.path, copy)
        finally:
            self.fd = own
            os.close(fd)

    async def _finish(self) -> None:
        """Closing after ``close-inactive``."""
        await self._flush_pieces(None)
        await self._flush_multiline()
        if self.detached:
            await self._flush_partial()
        p = self.progress
        if p is not None:
            p.read_pos = self.hold if self.skip and self.hold is not None else self.buf_off
            if self.detached and not self.skip:
                p.read_pos = self.pos

    # -- turning bytes into messages ------------------------------------------------------
    def _identify(self) -> None:
        head = read_head(self.fd, self.coll.options.fingerprint_bytes)
        ident = Identity.of(self.dev, self.ino, head)
        self.progress = self.coll.register(ident, self.home, self.buf_off, fresh=True)
        self._id_prefix = ident.uid + "-"

    async def _consume(self, data: bytes) -> None:
        if self.progress is None:
            self._identify()
        off = self.pos
        self.pos += len(data)
        if self.skip:
            nl = data.find(b"\n")
            if nl < 0:
                return
            data = data[nl + 1 :]
            off += nl + 1
            self.skip = False
            self.hold = None
            self.buf_off = off
        if self.buf:
            data = self.buf + data
            off = self.buf_off
            self.buf = b""
        cut = data.rfind(b"\n")
        batch: list[Message] = []
        delivery = Delivery(0, None)
        now = time.time()
        if cut >= 0:
            complete = data[:cut]
            if self.mline is None and complete.isascii() and b"\r" not in complete:
                if self.cri is None:
                    self._ascii_lines(complete, off, now, delivery, batch)
                elif not self.cri.json:
                    ascii_cri(self, complete, off, now, delivery, batch)
                else:
                    self._lines(complete, off, now, delivery, batch)
            else:
                self._lines(complete, off, now, delivery, batch)
            rest = data[cut + 1 :]
            rest_off = off + cut + 1
        else:
            rest = data
            rest_off = off
        if len(rest) > self.limit:
            self._overlong(rest, rest_off, now, delivery, batch)
            rest = b""
        self.buf = rest
        self.buf_off = rest_off
        await self._emit(batch, delivery)

    def _commit_point(self) -> int:
        end = self.buf_off
        if self.hold is not None:
            end = min(end, self.hold)
        if self.mline is not None:
            ps = self.mline.pending_start
            if ps is not None:
                end = min(end, ps)
        if self.cri is not None:
            ps = self.cri.pending_start
            if ps is not None:
                end = min(end, ps)
        return end

    async def _emit(self, batch: list[Message], delivery: Delivery) -> None:
        p = self.progress
        assert p is not None
        end = self._commit_point()
        if not batch:
            p.skip_to(end)
            return
        delivery.pending = len(batch)
        delivery.callback = p.add(end)
        coll = self.coll
        if coll.options.format == "json":
            bad = decode_messages(batch)
            if bad:
                coll.metrics.inc("invalid_json", bad)
        coll.metrics.received += len(batch)
        try:
            await coll.emit(batch)
        except asyncio.CancelledError:
            # not (fully) queued: the commit point must never pass this batch's start
            p.abandon()
            raise

    def _ascii_lines(
        self, complete: bytes, off: int, now: float, d: Delivery, out: list[Message]
    ) -> None:
        """The fast path: ASCII text without CR, no multiline (bytes == characters)."""
        text = complete.decode("ascii")
        limit = self.limit
        prefix = self._id_prefix
        path = self.path
        host = self.coll.host
        name = self.coll.name
        append = out.append
        pos = off
        for ln in text.split("\n"):
            n = len(ln)
            if n:
                m = new_log(
                    ln, now, host, [name], f"{prefix}{pos}", {"path": path, "offset": pos}, d
                )
                if n > limit:
                    m.message = ln[:limit]
                    self._mark_truncated(m)
                append(m)
            pos += n + 1

    def _lines(
        self, complete: bytes, off: int, now: float, d: Delivery, out: list[Message]
    ) -> None:
        """The general path: any bytes, CRLF, invalid text, multiline."""
        enc = self.encoding
        try:
            complete.decode(enc)
            bad = False
        except UnicodeDecodeError:
            bad = True
        mline = self.mline
        events: list[tuple[Event, Any]] = []
        pos = off
        for raw in complete.split(b"\n"):
            n = len(raw) + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw and mline is None:
                pos += n
                continue
            cut = len(raw) > self.limit
            if cut:
                text = self._decode_head(raw, pos)
            elif bad:
                try:
                    text = raw.decode(enc)
                except UnicodeDecodeError:
                    text = raw.decode(enc, "replace")
                    self.coll.bad_text(self.path, pos)
            else:
                text = raw.decode(enc)
            if self.cri is not None:
                whole: list[Line] = []
                self.cri.take(text, pos, whole)
                self._container_lines(whole, pos + n, now, d, out, events)
            elif mline is not None:
                mline.feed(text, pos, pos + n, events, cut)
            else:
                m = self._message(text, pos, now, d)
                if cut:
                    self._mark_truncated(m)
                out.append(m)
            pos += n
        for ev, meta in events:
            out.append(self._event(ev, now, d, meta))

    def _container_lines(
        self,
        whole: list[Line],
        end: int,
        now: float,
        d: Delivery | None,
        out: list[Message],
        events: list[tuple[Event, Any]],
    ) -> None:
        """Whole lines of a container log file: joined (multiline) or one message each."""
        for text, off, t, stream, cut, tags in whole:
            if self.mline is not None:
                self.mline.feed(text, off, end, events, cut, stream, (t, stream, tags))
            else:
                m = self._message(text, off, now, d)
                self._of_container(m, t, stream, tags)
                if cut:
                    self._mark_truncated(m)
                out.append(m)

    def _of_container(
        self, m: Message, t: float | None, stream: str, tags: tuple[str, ...]
    ) -> None:
        if t is not None:
            m.time = t
        m.fields["stream"] = stream
        m.container = self.container
        if tags:
            m.tags.extend(tags)
            if "_criparsefailure" in tags:
                self.coll.metrics.inc("invalid_container_lines")
            else:
                self.coll.metrics.inc("partial_flushed")

    async def _flush_pieces(self, older_than: float | None) -> None:
        """Pieces of lines never completed (idle for partial-timeout, or at a close)."""
        if self.cri is None or not self.cri.pieces or self.progress is None:
            return
        whole: list[Line] = []
        self.cri.flush(older_than, whole)
        d = Delivery(0, None)
        batch: list[Message] = []
        events: list[tuple[Event, Any]] = []
        now = time.time()
        self._container_lines(whole, self.buf_off, now, d, batch, events)
        batch.extend(self._event(ev, now, d, meta) for ev, meta in events)
        await self._emit(batch, d)

    def _overlong(self, rest: bytes, off: int, now: float, d: Delivery, out: list[Message]) -> None:
        """An unterminated line longer than the limit: send its head, drop up to its end."""
        text = self._decode_head(rest, off)
        self.skip = True
        self.hold = off
        if self.mline is not None:
            events: list[tuple[Event, Any]] = []
            self.mline.feed(text, off, off + self.limit, events, True)
            for ev, meta in events:
                out.append(self._event(ev, now, d, meta))
        else:
            m = self._message(text, off, now, d)
            self._mark_truncated(m)
            out.append(m)

    def _decode_head(self, raw: bytes, off: int) -> str:
        """The first ``max-line-bytes`` of a line; a character cut in two is left out."""
        head = raw[: self.limit]
        try:
            return codecs.getincrementaldecoder(self.encoding)("strict").decode(head)
        except UnicodeDecodeError:
            self.coll.bad_text(self.path, off)
            return codecs.getincrementaldecoder(self.encoding)("replace").decode(head)

    def _message(self, text: str, off: int, now: float, d: Delivery | None) -> Message:
        return Message(
            text,
            now,
            host=self.coll.host,
            id=self._id_prefix + str(off),
            source_path=[self.coll.name],
            fields={"path": self.path, "offset": off},
            ack=d,
        )

    def _event(self, ev: Event, now: float, d: Delivery | None, meta: Any = None) -> Message:
        """A joined message; ``meta``: its first line's time, stream and tags (cri)."""
        text, off, _end, dropped, nlines = ev
        m = self._message(text, off, now, d)
        if meta is not None:
            self._of_container(m, *meta)
        if nlines > 1:
            m.fields["lines"] = nlines
        if dropped or len(text) > self.limit:
            raw = text.encode(self.encoding, "replace")
            if dropped or len(raw) > self.limit:
                m.message = raw[: self.limit].decode(self.encoding, "ignore")
                self._mark_truncated(m)
        return m

    def _mark_truncated(self, m: Message) -> None:
        m.tags.append(TRUNCATED)
        self.coll.metrics.inc("truncated")

    async def _flush_multiline(self, older_than: float | None = None) -> None:
        """Held messages: of the streams idle since ``older_than`` (monotonic), or all."""
        if self.mline is None or self.progress is None:
            return
        held = self.mline.flush(older_than)
        if not held:
            return
        d = Delivery(0, None)
        now = time.time()
        await self._emit([self._event(ev, now, d, meta) for ev, meta in held], d)

    async def _flush_partial(self) -> None:
        """Send an unterminated last line (the file will not be written any more)."""
        if not self.buf or self.progress is None:
            return
        data, self.buf = self.buf, b""
        off = self.buf_off
        self.buf_off = off + len(data)
        d = Delivery(0, None)
        batch: list[Message] = []
        self._lines(data, off, time.time(), d, batch)
        if self.mline is not None:
            now = time.time()
            batch.extend(self._event(ev, now, d, meta) for ev, meta in self.mline.flush())
        await self._emit(batch, d)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
