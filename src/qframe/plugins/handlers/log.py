"""log: writes messages to stdout or a file, as text or canonical JSON lines."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections import deque
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from ...batch import json_lines
from ...buffer.options import METRICS as BUFFER_METRICS
from ...buffer.options import BufferOptions
from ...jsonsafe import ENCODE_FAILURE_TAG, encode_each
from ...message import Message, format_time
from ...options import Field, PluginOptions
from ...plugin import Handler, Plugin, ack
from ...telemetry import HandlerTally, MetricSpec

if TYPE_CHECKING:
    from ...buffer.queue import DiskQueue, RecordToken

_LEVELS = ("EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG")


class LogHandler(Handler):
    """Writes every message it receives, one line each.

    - ``format: json``: the canonical JSON of the message (docs/architecture.md), one object per line.
    - ``format: text``: ``<time> [<LEVEL>] <source_path> <container name>: <message>``,
      with metric points as ``measurement field=value …``.

    ``path: "-"`` writes to standard output; a file path appends to that file (created
    with its directories).  Each batch is written and flushed before it is acknowledged.

    A message that cannot be encoded (nested past what JSON encoding takes, an integer
    past 64 bits, a lone surrogate) is left out alone: tagged ``_encodefailure``, counted
    (``qframe_unencodable_total``, and dropped with reason ``unencodable``), logged and
    acknowledged; the rest of its batch is written.

    ``buffer: {type: disk}``: each input batch's lines, encoded, are one record of the disk
    buffer; the batch is acknowledged once the record is fsynced, and the record confirmed
    once its lines are written to the file (a failed write, e.g. a full disk, makes the
    handler ``degraded`` and is tried again every second from where it stopped). A crash
    between a write and the persisted watermark writes those lines again on restart: a
    file has no de-duplication, but each line carries its stable ``id`` (``format: json``).
    """

    manual_ack = True  # memory: acknowledged after the write; disk: once on disk
    exported_metrics = (
        MetricSpec("unencodable", "counter", "messages that could not be encoded (left out)"),
        MetricSpec("delivered", "counter", "messages written from the disk buffer"),
        *BUFFER_METRICS,
    )

    class Options(PluginOptions):
        format: Literal["text", "json"] = Field(
            "text", description="text or json (canonical JSON lines)"
        )
        path: str = Field("-", description='"-" for standard output, else a file to append to')
        buffer: BufferOptions = Field(
            default_factory=BufferOptions,
            description="type (memory or disk), max-bytes, when-full (block or drop-newest), "
            "fsync-interval: disk keeps accepted messages through crashes and write failures "
            "(README: Disk buffers)",
        )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._out: BinaryIO | None = None
        self._own = False
        self._disk: DiskQueue | None = None
        if self.options.buffer.type == "disk":  # (its code loaded only when used)
            from ...broker.ids import IdSource
            from ...buffer.queue import DiskQueue

            self._disk = DiskQueue(self, self.options.buffer)
            self._ids = IdSource()
        # the disk buffer's read side (names the queue uses): records read back, to write
        self._replay: deque[tuple[bytes, RecordToken]] = deque()
        self._written_of_head = 0  # bytes of the first record written before a failure
        self._pending = 0
        self._max_pending = 8 * 1024
        self._room = asyncio.Event()
        self._room.set()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._delivered = 0
        self._bad = 0  # messages of the last batch that could not be encoded

    async def start(self) -> None:
        if self._disk is not None:  # first: a buffer in use elsewhere fails the start
            from ...buffer.queue import buffer_path

            await self._disk.open(buffer_path(self._node.pipeline.data_dir, self.name))
            self._writer = asyncio.ensure_future(self._write_loop())
        self._open()
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A line cut short by a crash (a SIGKILL in the middle of a write) is ended before
        this run appends: else it and the first new line would read as one broken line."""
        out = self._out
        if not self._own or out is None:
            return
        try:
            if not stat.S_ISREG(os.fstat(out.fileno()).st_mode):
                return
            with open(self.options.path, "rb") as f:
                if f.seek(0, os.SEEK_END) == 0:
                    return
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
            if torn:
                out.write(b"\n")
                out.flush()
        except OSError as exc:  # written to by the next batch, or failing then
            self.log.debug("cannot look at the end of %s: %s", self.options.path, exc)

    def _open(self) -> None:
        path = self.options.path
        if path == "-":
            self._out = sys.stdout.buffer
        else:
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            # disk: unbuffered, so a failed write is resumed from the byte it stopped at
            self._out = open(path, "ab", buffering=0 if self._disk else 1 << 20)
            self._own = True

    async def stop(self) -> None:
        if self._disk is not None:  # what is not written stays on disk, kept
            await self._disk.stop_reading()
            if self._writer is not None:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
                self._writer = None
            try:
                self._write_replayed()  # what was read back already: once more, no retry
            except OSError:
                pass
            await self._disk.close()
        out, self._out = self._out, None
        if out is not None:
            try:
                out.flush()
            finally:
                if self._own:
                    out.close()

    def tally(self) -> HandlerTally | None:
        if self._disk is None:
            return None  # delivered when handle() returned
        return HandlerTally(
            delivered=self._delivered, kept=self._disk.kept() - self._disk.kept_before
        )

    def adopt(self, previous: Plugin) -> None:
        # a reload: what the predecessor reported kept is not counted again
        prev = getattr(previous, "_disk", None)
        if self._disk is not None and prev is not None:
            self._disk.kept_before = max(0, prev.kept() - prev.kept_before)

    async def handle(self, batch: list[Message]) -> None:
        if self._disk is not None:
            self._ids.assign(batch)  # stable ids before the record is written
            data = self._encode(batch)
            if data:
                await self._disk.put_record(data, len(batch) - self._bad, batch)
            else:
                ack(batch)
            return
        out = self._out
        if out is None:
            self._open()
            out = self._out
            assert out is not None
        out.write(self._encode(batch))
        out.flush()
        ack(batch)

    def _encode(self, batch: list[Message]) -> bytes:
        self._bad = 0
        try:
            if self.options.format == "json":
                return json_lines(batch)
            parts = [self._text(m).encode("utf-8", "replace") for m in batch]
            parts.append(b"")
            return b"\n".join(parts)
        except Exception:
            return self._isolate(batch)

    # -- the disk buffer's read side: records back from disk, written in order -------------
    def _buffer_feed(self, payload: bytes, token: Any) -> int:
        self._replay.append((payload, token))
        self._pending += token.events
        self._wake.set()
        return int(token.events)

    def _buffer_flush(self) -> None:
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            if not self._replay:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                self._write_replayed()
            except OSError as exc:
                reason = f"write: {exc.strerror or exc}"
                self.set_health("degraded", reason)
                self.warn_limited("write", "%s (%s): trying again", reason, self.options.path)
                await asyncio.sleep(1.0)
                continue
            if self.metrics.state_reason.startswith("write:"):
                self.set_health("ok")
            await asyncio.sleep(0)

    def _write_replayed(self) -> None:
        """Write the records read back, in order; each is confirmed once written whole.
        An error leaves the rest queued, the first one's written bytes remembered."""
        if self._out is None:
            self._open()
        out = self._out
        assert out is not None
        q = self._replay
        while q:
            payload, tok = q[0]
            view = memoryview(payload)
            while self._written_of_head < len(payload):
                n = out.write(view[self._written_of_head :])
                if not n:
                    raise OSError(f"{self.options.path}: nothing written")
                self._written_of_head += n
            out.flush()
            q.popleft()
            self._written_of_head = 0
            self._pending -= tok.events
            self._delivered += tok.events
            self.metrics.inc("delivered", tok.events)
            tok.done(tok.events)
        if self._pending < self._max_pending:
            self._room.set()

    def _isolate(self, batch: list[Message]) -> bytes:
        """The batch encoded message by message: the ones that fail are left out."""
        if self.options.format == "json":
            good, bad = encode_each(batch, lambda m: json_lines([m]))
        else:
            good, bad = encode_each(
                batch, lambda m: self._text(m).encode("utf-8", "replace") + b"\n"
            )
        self._bad = len(bad)
        for m, _ in bad:
            m.add_tag(ENCODE_FAILURE_TAG)
        self.metrics.inc("unencodable", len(bad))
        self.metrics.drop("unencodable", len(bad))  # acknowledged with the batch
        self.warn_limited(
            "unencodable",
            "%d message(s) could not be encoded and were left out (first: %r)",
            len(bad),
            bad[0][1],
        )
        return b"".join(good)

    @staticmethod
    def _text(m: Message) -> str:
        lvl = _LEVELS[m.level] if 0 <= m.level < len(_LEVELS) else str(m.level)
        who = m.container.name if m.container is not None else ""
        head = f"{format_time(m.time)} [{lvl}] {'>'.join(m.source_path)}"
        if who:
            head += f" {who}"
        if m.metric is not None:
            body = m.metric.name + " " + " ".join(f"{k}={v}" for k, v in m.metric.fields.items())
            if m.labels:
                body += " " + ",".join(f"{k}={v}" for k, v in m.labels.items())
            return f"{head}: {body}"
        text = m.message
        if m.tags:
            text += f" tags={','.join(m.tags)}"
        return f"{head}: {text}"
