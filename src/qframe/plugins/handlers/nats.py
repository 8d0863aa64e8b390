"""nats: the agent side of scale-out — batches of messages published to NATS JetStream."""

from __future__ import annotations

import asyncio
import re
import struct
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Literal

# isort: off
from ...broker import natsload  # noqa: F401  (first: nats-py without aiohttp)

# isort: on
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api
from pydantic import field_validator

from ...batch import clip_ends, read_ends
from ...broker import wire
from ...broker.conn import NatsLink, NatsOptions, token_safe
from ...broker.ids import IdSource
from ...buffer.options import METRICS as BUFFER_METRICS
from ...buffer.options import BufferOptions
from ...jsonsafe import ENCODE_FAILURE_TAG
from ...message import Message, fields_of
from ...options import Bytes, Duration, Field, StrList
from ...plugin import Handler, Plugin, ack
from ...retry import backoff
from ...telemetry import HandlerTally, MetricSpec
from ..common.dead_letter import DEAD_LETTER_METRICS, DeadLetterFile
from ..common.inflight import InFlight, InFlightView, adopt_disk, shutdown_budget, tally

if TYPE_CHECKING:
    from ...buffer.queue import DiskQueue

__all__ = ["NatsHandler"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: header and framing room kept free under the server's max_payload
_MARGIN = 4096
_U32 = struct.Struct("<I")


def subject_template(template: str) -> Callable[[Message], str] | None:
    """A function giving a message's subject, or None when the subject is fixed."""
    parts = _PLACEHOLDER.split(template)
    if len(parts) == 1:
        return None
    getters: list[Callable[[Message], str] | str] = []
    for i, p in enumerate(parts):
        if i % 2 == 0:
            if p:
                getters.append(p)
            continue
        getters.append(_getter(p))

    def subject(m: Message) -> str:
        return "".join(g if type(g) is str else g(m) for g in getters)  # type: ignore[operator]

    return subject


def _getter(name: str) -> Callable[[Message], str]:
    if name == "kind":
        return lambda m: token_safe(m.kind)
    if name == "host":
        return lambda m: token_safe(m.host)
    if name == "container.name":
        return lambda m: token_safe(m.container.name if m.container is not None else "")
    if name.startswith("fields.") and len(name) > 7:
        key = name[7:]
        return lambda m: token_safe(str(f.get(key, "")) if (f := fields_of(m)) else "")
    raise ValueError(
        f"unknown placeholder {{{name}}} (known: kind, host, container.name, fields.NAME)"
    )


class _Batch:
    """Messages on their way to one subject; sealed (bytes and id fixed) when dispatched."""

    __slots__ = ("ends", "messages", "msg_id", "payload", "size", "subject")

    def __init__(
        self, subject: str, messages: list[Message] | None = None, ends: list[int] | None = None
    ) -> None:
        self.subject = subject
        self.messages: list[Message] = [] if messages is None else messages
        #: where each read (a UniformBatch of the input) ends, while all are reads
        self.ends: list[int] | None = [] if messages is None else ends
        self.size = 0  # estimated encoded bytes
        self.payload = b""
        self.msg_id = ""

    def extend(self, batch: list[Message], start: int, stop: int, ends: list[int] | None) -> None:
        """Add ``batch[start:stop]`` (``ends``: those of ``batch``'s reads, or None)."""
        if self.ends is not None:
            if ends is None:
                self.ends = None
            else:
                self.ends += clip_ends(ends, start, stop, len(self.messages))
        self.messages += batch[start:stop] if start or stop < len(batch) else batch


#: estimated bytes of a message's record beside its text (time, kind, host, path, id …)
_OVERHEAD = 96


def _fit(acc: list[int], i: int, j: int, room: int) -> int:
    """How many messages from ``i`` (at most ``j - i``) fit in ``room`` estimated bytes
    (``acc``: the texts' lengths summed from the start, ``acc[k]`` those before message
    ``k``; each message counts :data:`_OVERHEAD` more): a binary search (a batch cut by
    bytes, the usual case with a large batch-size, looks at no message one by one)."""
    base = acc[i]
    return bisect_right(range(1, j - i + 1), room, key=lambda k: acc[i + k] - base + _OVERHEAD * k)


class NatsHandler(InFlightView, Handler):
    """Publishes messages to NATS JetStream, many per NATS message, acknowledged on PubAck.

    Every message without an id gets one first (``<random per process>-<sequence>``): a
    batch redelivered by JetStream keeps its ids, so Elasticsearch's ``_id`` absorbs a
    replay.  A batch's bytes and ``Nats-Msg-Id`` are fixed at its first attempt and reused
    on every retry (JetStream drops the duplicate within ``duplicate-window``).

    While NATS is unreachable or the stream is full (``discard: new``) batches are retried
    and the input waits once ``max-pending`` messages are unconfirmed: backpressure, never
    a drop; ``/health`` says ``degraded`` with the reason.  Start-up does not wait for NATS.
    A message larger than the server's ``max_payload`` on its own is dead-lettered.

    The payload format (lossless: times, big and non-finite numbers, bytes) is read by the
    ``nats`` collector of an aggregator.  Example::

        handler:
          bus: {kind: nats, inputs: [tcp, files], url: "nats://n1:4222,nats://n2:4222",
                subject: "qframe.{kind}.{host}", replicas: 3, max-bytes: 10GiB}
    """

    manual_ack = True

    class Options(NatsOptions):
        subject: str = Field(
            "qframe.events",
            description="subject; placeholders {kind}, {host}, {container.name}, {fields.NAME}",
        )
        stream: str = Field("QFRAME", description="the JetStream stream")
        create_stream: bool = Field(
            True, description="create the stream if missing (else only publish to it)"
        )
        stream_subjects: StrList = Field(
            default_factory=lambda: ["qframe.>"], description="subjects of a created stream"
        )
        replicas: int = Field(1, ge=1, le=5, description="replicas of a created stream")
        max_bytes: Bytes = Field(
            0, ge=0, description="size limit of a created stream (0: the server's limit)"
        )
        max_age: Duration = Field(0.0, ge=0, description="age limit of a created stream (0: none)")
        duplicate_window: Duration = Field(
            600.0, gt=0, description="JetStream's de-duplication window of a created stream"
        )
        batch_size: int = Field(4000, ge=1, description="messages per NATS message")
        batch_bytes: Bytes = Field(
            "900KiB",
            ge=1024,
            description="encoded bytes per NATS message (kept under the server's max_payload)",
        )
        max_in_flight: int = Field(4, ge=1, description="publishes awaiting their PubAck at once")
        max_pending: int = Field(
            0,
            ge=0,
            description="unconfirmed messages held before input waits (0: 4 × batch-size × max-in-flight)",
        )
        compression: Literal["none", "zstd", "gzip"] = Field(
            "none", description="compression of the batch payload"
        )
        retry_initial: Duration = Field(0.2, gt=0, description="first retry delay (then doubled)")
        retry_max: Duration = Field(10.0, gt=0, description="longest retry delay")
        dead_letter: str = Field(
            "",
            description="JSON-lines file for messages too large to publish (default: dead-letter.jsonl in the instance's data dir)",
        )
        dead_letter_max_bytes: Bytes = Field(
            "100MiB", ge=0, description="rotate the dead-letter file past this size (0: no limit)"
        )
        buffer: BufferOptions = Field(
            default_factory=BufferOptions,
            description="type (memory or disk), max-bytes, when-full (block or drop-newest), "
            "fsync-interval: disk keeps accepted messages through crashes and NATS outages "
            "(README: Disk buffers)",
        )

        @field_validator("subject")
        @classmethod
        def _valid_subject(cls, v: str) -> str:
            subject_template(v)
            if not v or " " in v or any(t in ("*", ">", "") for t in v.split(".")):
                raise ValueError(f"{v!r} is not a subject to publish to")
            return v

    options: Options
    exported_metrics = (
        *DEAD_LETTER_METRICS,
        MetricSpec("delivered", "counter", "messages JetStream confirmed"),
        MetricSpec("batches", "counter", "batches JetStream confirmed"),
        MetricSpec("duplicates", "counter", "batches JetStream had already stored (Nats-Msg-Id)"),
        MetricSpec("retried", "counter", "messages published again, by reason"),
        MetricSpec("splits", "counter", "batches split in halves for the server's max_payload"),
        MetricSpec("dead_letter", "counter", "messages written to the dead-letter file, by reason"),
        MetricSpec("pending", "gauge", "messages not confirmed yet"),
        *BUFFER_METRICS,
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._subject_of = subject_template(self.options.subject)
        self._ids = IdSource()
        self._bufs: dict[str, _Batch] = {}
        self._batch_seq = 0
        self.inflight = InFlight(
            self,
            self.options.max_pending or 4 * self.options.batch_size * self.options.max_in_flight,
        )
        self._sem = asyncio.Semaphore(self.options.max_in_flight)
        self._limit = self.options.batch_bytes
        self._max_payload = 1024 * 1024 - _MARGIN  # the server's default, until connected
        self._js: Any = None
        self._dead_file: DeadLetterFile | None = None
        self._link = NatsLink(self, self.options, self._setup)
        self._disk: DiskQueue | None = None
        if self.options.buffer.type == "disk":  # (its code loaded only when used)
            from ...buffer.queue import DiskQueue

            self._disk = DiskQueue(self, self.options.buffer)

    # -- life --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._disk is not None:  # first: a buffer in use elsewhere fails the start
            from ...buffer.queue import buffer_path

            await self._disk.open(buffer_path(self._node.pipeline.data_dir, self.name))
        self._dead_file = DeadLetterFile(
            self, self.options.dead_letter, self.options.dead_letter_max_bytes
        )
        self._link.start()

    async def _setup(self, nc: Client) -> None:
        js = nc.jetstream(timeout=self.options.request_timeout)
        self._max_payload = nc.max_payload - _MARGIN
        self._limit = max(1024, min(self.options.batch_bytes, self._max_payload))
        if self.options.create_stream:
            await self._ensure_stream(js)
        self._js = js

    async def _ensure_stream(self, js: Any) -> None:
        want = api.StreamConfig(
            name=self.options.stream,
            subjects=list(self.options.stream_subjects),
            num_replicas=self.options.replicas,
            max_bytes=self.options.max_bytes or -1,
            max_age=self.options.max_age,
            discard=api.DiscardPolicy.NEW,
            duplicate_window=self.options.duplicate_window,
            storage=api.StorageType.FILE,
        )
        try:
            info = await js.stream_info(self.options.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(want)
            self.log.info(
                "created stream %s over %s",
                self.options.stream,
                ", ".join(self.options.stream_subjects),
            )
            return
        have = info.config
        diffs = [
            f"{k}: {getattr(have, k)!r} (configured {getattr(want, k)!r})"
            for k in ("subjects", "num_replicas", "discard", "duplicate_window")
            if _norm(getattr(have, k)) != _norm(getattr(want, k))
        ]
        if diffs:
            self.warn_limited(
                "stream-differs",
                "stream %s exists with other settings, left as it is: %s",
                self.options.stream,
                "; ".join(diffs),
                every=3600,
            )

    async def stop(self) -> None:
        if self._disk is not None:  # what is not confirmed stays on disk, kept
            await self._disk.stop_reading()
        self._flush()
        kept = self._disk is not None
        timeout = shutdown_budget(self, 1.5)
        await self.inflight.drain(min(timeout, 2.0) if kept else timeout, kept, " by NATS")
        if self._disk is not None:
            await self._disk.close()
        self.inflight.settle(kept)
        await self._link.close()

    def tally(self) -> HandlerTally:
        m = self.metrics
        dead = sum(v for (name, _), v in m.counters.items() if name == "dead_letter")
        return tally(self.inflight, self._disk, int(m.counter("delivered")), int(dead))

    def adopt(self, previous: Plugin) -> None:
        adopt_disk(self._disk, previous)

    # -- input -------------------------------------------------------------------------
    async def handle(self, batch: list[Message]) -> None:
        if self._disk is not None:
            await self._to_disk(batch)
            return
        subject_of = self._subject_of
        if subject_of is None:
            self._add(self.options.subject, batch, read_ends(batch))
        else:
            groups: dict[str, list[Message]] = {}
            for m in batch:
                groups.setdefault(subject_of(m), []).append(m)
            for subject, ms in groups.items():
                self._add(subject, ms)
        await self.inflight.wait_room(self._flush)

    # -- disk buffer: a record per subject of an input batch (subject, wire payload) ----------
    async def _to_disk(self, batch: list[Message]) -> None:
        self._ids.assign(batch)  # stable ids before the record is written
        subject_of = self._subject_of
        groups: dict[str, list[Message]] = {}
        for m in batch:
            groups.setdefault(
                self.options.subject if subject_of is None else subject_of(m), []
            ).append(m)
        for subject, ms in groups.items():
            try:
                body = wire.encode_payload(ms)
            except Exception:  # a bug: the memory path finds and dead-letters the message
                self._add(subject, ms)
                continue
            sub = subject.encode()
            await self._disk.put_record(_U32.pack(len(sub)) + sub + body, len(ms), ms)  # type: ignore[union-attr]

    def _buffer_feed(self, payload: bytes, token: Any) -> int:
        """A record read back from the disk buffer: its messages, to be published."""
        (n,) = _U32.unpack_from(payload)
        subject = payload[4 : 4 + n].decode()
        ms = wire.decode(payload[4 + n :], token)
        if ms:
            self._add(subject, ms, read_ends(ms))
        return len(ms)

    def _flush(self) -> None:
        for subject in list(self._bufs):
            self._dispatch(subject)

    _buffer_flush = _flush

    def _add(self, subject: str, messages: list[Message], ends: list[int] | None = None) -> None:
        """Buffer messages; a batch is sent per ``batch-size`` messages or (estimated)
        ``batch-bytes``; the exact size is checked when it is sealed.  ``ends``: where the
        reads of ``messages`` end (:func:`~qframe.batch.read_ends`), kept for the encoder."""
        bsize, limit = self.options.batch_size, self._limit
        self.inflight.pending += len(messages)
        # the texts' lengths summed from the start, in one pass (a comprehension: 3.11
        # specializes its slot read): the estimate of any span is a difference
        acc = list(accumulate([len(m.message) for m in messages], initial=0))
        i, n = 0, len(messages)
        while i < n:
            b = self._bufs.get(subject)
            if b is None:
                b = self._bufs[subject] = _Batch(subject)
            j = min(n, i + bsize - len(b.messages))
            total = acc[j] - acc[i] + _OVERHEAD * (j - i)
            if b.size + total <= limit:  # the usual case: no need to find the cut
                b.extend(messages, i, j, ends)
                b.size += total
                i = j
                if len(b.messages) >= bsize:
                    self._dispatch(subject)
                continue
            k = _fit(acc, i, j, limit - b.size)
            if k == 0:
                if b.messages:
                    self._dispatch(subject)
                    continue
                k = 1  # alone over the estimate: the seal says whether it fits
            b.extend(messages, i, i + k, ends)
            b.size += acc[i + k] - acc[i] + _OVERHEAD * k
            i += k
            if len(b.messages) >= bsize or i < j:
                self._dispatch(subject)

    async def on_tick(self) -> None:
        self._flush()
        self.metrics.set_gauge("pending", self.inflight.pending)

    def _dispatch(self, subject: str) -> None:
        b = self._bufs.pop(subject, None)
        if b is None or not b.messages:
            return
        for sealed in self._seal(b):
            self.inflight.launch(self._deliver(sealed))

    def _seal(self, b: _Batch) -> list[_Batch]:
        """The batch's bytes and id, fixed for every attempt; halves while it is larger than
        the server takes; a message alone over that is dead-lettered."""
        ms = b.messages
        try:
            payload = wire.encode_payload(ms, self._ids, b.ends, self.options.compression)
        except Exception as exc:  # a bug: find the messages it is about, never a crash
            if len(ms) == 1:
                ms[0].add_tag(ENCODE_FAILURE_TAG)
                self._dead([(ms[0], f"encode: {exc!r}")], pending=True)
                return []
            return self._halves(b)
        if len(payload) > self._max_payload:
            if len(ms) == 1:
                reason = f"{len(payload)} bytes: over the {self._max_payload}-byte limit of one NATS message"
                self._dead([(ms[0], reason)], pending=True)
                return []
            self.metrics.inc("splits")
            return self._halves(b)
        self._batch_seq += 1
        b.msg_id = f"{self._ids.prefix}.b{self._batch_seq:x}"
        b.payload = payload
        return [b]

    def _halves(self, b: _Batch) -> list[_Batch]:
        ms = b.messages
        h = len(ms) // 2
        ends = b.ends
        first = _Batch(b.subject, ms[:h], None if ends is None else clip_ends(ends, 0, h, 0))
        second = _Batch(b.subject, ms[h:], None if ends is None else clip_ends(ends, h, len(ms), 0))
        return self._seal(first) + self._seal(second)

    # -- delivery ----------------------------------------------------------------------
    async def _deliver(self, b: _Batch) -> None:
        attempt = 0
        headers = {"Nats-Msg-Id": b.msg_id}
        while True:
            await self._link.wait_ready()
            js = self._js
            async with self._sem:
                try:
                    res = await js.publish(
                        b.subject,
                        b.payload,
                        timeout=self.options.request_timeout,
                        stream=self.options.stream,
                        headers=dict(headers),
                    )
                except nats.errors.MaxPayloadError:
                    await self._split(b)
                    return
                except Exception as exc:
                    reason = _reason(exc, b.subject)
                else:
                    reason = ""
            if not reason:
                if res.duplicate:
                    self.metrics.inc("duplicates")
                ack(b.messages)
                self.metrics.inc("delivered", len(b.messages))
                self.metrics.inc("batches")
                self.inflight.confirmed(len(b.messages))
                if attempt and self._link.ready.is_set():
                    self.set_health("ok")
                return
            attempt += 1
            self.metrics.inc("retried", len(b.messages), reason=reason.split(":", 1)[0][:40])
            self.set_health("degraded", reason)
            self.warn_limited(
                f"publish-{reason[:30]}", "%d messages will be retried: %s", len(b.messages), reason
            )
            await asyncio.sleep(
                backoff(attempt, self.options.retry_initial, self.options.retry_max, jitter=True)
            )

    async def _split(self, b: _Batch) -> None:
        """Refused by the client as larger than its max_payload (nothing was stored)."""
        self._max_payload = min(self._max_payload, len(b.payload) - 1)
        self.metrics.inc("splits")
        await asyncio.gather(*(self._deliver(h) for h in self._halves(b)))

    def _dead(self, dead: list[tuple[Message, str]], pending: bool = False) -> None:
        records = []
        for m, reason in dead:
            self.metrics.inc("dead_letter", reason=reason.split(":", 1)[0][:40])
            try:
                record: Any = m.to_dict()
            except Exception:
                record = repr(m)
            records.append({"error": reason, "message": record})
        assert self._dead_file is not None
        try:
            self._dead_file.write(records)
        except OSError as exc:
            self.metrics.errors += 1
            self.warn_limited("dead-letter-write", "dead-letter file not written: %r", exc)
        self.warn_limited(
            "dead-letter", "%d messages dead-lettered: %s", len(dead), dead[0][1], every=10.0
        )
        ack([m for m, _ in dead])
        if pending:
            self.inflight.confirmed(len(dead))


def _norm(v: Any) -> Any:
    if isinstance(v, list):
        return sorted(v)
    if hasattr(v, "value"):
        return v.value
    return v


def _reason(exc: BaseException, subject: str) -> str:
    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        return f"no stream takes subject {subject} (no responders)"
    if isinstance(exc, nats.js.errors.APIError):
        return f"JetStream: {exc.description or exc} (code {exc.err_code})"
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name
