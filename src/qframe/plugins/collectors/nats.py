"""nats: the aggregator side of scale-out — batches pulled from a JetStream durable consumer."""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from collections import deque
from typing import Any, Literal

# isort: off
from ...broker import natsload  # noqa: F401  (first: nats-py without aiohttp)

# isort: on
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api

from ...aio import wait_event
from ...broker import wire
from ...broker.conn import NatsLink, NatsOptions
from ...message import Delivery
from ...options import Bytes, Duration, Field
from ...plugin import Collector
from ...retry import backoff
from ...telemetry import MetricSpec
from ..common.dead_letter import DEAD_LETTER_METRICS, DeadLetterFile

__all__ = ["NatsCollector"]


class NatsCollector(Collector):
    """Pulls batches of messages published by ``nats`` handlers from a JetStream stream.

    All aggregators of a group share one ``durable`` consumer: each batch goes to exactly
    one of them.  A batch is acknowledged to JetStream only once every one of its messages
    was acknowledged by this aggregator's handlers (end-to-end, as file and docker-logs
    do); while it waits (a destination down for minutes) the collector tells JetStream the
    batch is in progress, so it is not handed to another aggregator, and it pulls no more
    while ``max-outstanding`` batches wait.  A crash means redelivery: the messages keep
    their ids, and Elasticsearch's ``_id`` absorbs the replay.  A handler's disk buffer
    does not change that (``ack-on: delivered``, the default): its record being durable on
    this host acknowledges nothing upstream.  ``ack-on: buffered`` acks JetStream once
    the buffer's fsync made the batch durable, trading the stream's replicas for one
    local disk (the stream's retention can then drop what only this host holds).

    A batch JetStream delivers again to the aggregator that already delivered it (its ack
    was lost: NATS went down or the connection broke after the handlers confirmed it) is
    acknowledged again and not handed on: the collector remembers the batches it finished
    (stream sequence and the agent's batch id, or a checksum of a payload without one;
    the last ``max-ack-pending`` × 4);
    one delivered again while it is still waiting here is only acknowledged once done.

    An existing consumer whose ``ack-wait``, ``max-ack-pending`` or ``subject`` differ from
    the options is updated in place at connection (a change the server refuses is logged,
    and the consumer used as it is).

    While JetStream holds batches for the consumer (with room for more unacknowledged)
    and delivers none to anyone for ``stall-after``, the collector is ``degraded`` with
    that as the reason (a stream the server cannot read: its log says why), ``ok`` again
    once batches come or none are held.

    A batch of a newer format version is negatively acknowledged with ``nak-delay`` (a
    newer aggregator will take it during a rolling upgrade); a payload that is not a batch
    of ours (or badly compressed) is written to the dead-letter file, counted and
    terminated (``AckTerm``): never redelivered forever.  Example::

        collector:
          bus: {kind: nats, url: "nats://n1:4222,nats://n2:4222", durable: indexers}
    """

    class Options(NatsOptions):
        stream: str = Field("QFRAME", description="the JetStream stream to read")
        durable: str = Field(
            "qframe", description="consumer name shared by the aggregators of a group"
        )
        subject: str = Field(
            "", description="subject filter of a new consumer (default: all of the stream)"
        )
        deliver: Literal["all", "new"] = Field(
            "all", description="where a new consumer starts: all of the stream, or new messages"
        )
        ack_wait: Duration = Field(
            30.0, gt=0, description="JetStream redelivers a batch not acknowledged within this"
        )
        max_ack_pending: int = Field(
            1000, ge=1, description="unacknowledged batches JetStream allows the consumer"
        )
        batch: int = Field(8, ge=1, description="batches pulled per request")
        max_outstanding: int = Field(
            16, ge=1, description="batches of this aggregator waiting for acks before it pauses"
        )
        nak_delay: Duration = Field(
            30.0, ge=0, description="redelivery delay of a batch of a newer format version"
        )
        ack_on: Literal["delivered", "buffered"] = Field(
            "delivered",
            description="when JetStream is acked: delivered (the default: once the destination "
            "confirmed, even through a handler's disk buffer) or buffered (once a disk buffer "
            "holds the batch: a copy on this host's one disk replaces the replicated stream's)",
        )
        stall_after: Duration = Field(
            60.0,
            gt=0,
            description="degraded, with the reason, while JetStream holds batches for the "
            "consumer and delivers none to the pulls for this long (a store the server "
            "cannot read: its log says why)",
        )
        dead_letter: str = Field(
            "",
            description="JSON-lines file for unreadable payloads (default: dead-letter.jsonl in the instance's data dir)",
        )
        dead_letter_max_bytes: Bytes = Field(
            "100MiB", ge=0, description="rotate the dead-letter file past this size (0: no limit)"
        )

    options: Options
    exported_metrics = (
        *DEAD_LETTER_METRICS,
        MetricSpec("batches", "counter", "batches pulled and handed on"),
        MetricSpec(
            "acked", "counter", "batches acknowledged to JetStream (every message delivered)"
        ),
        MetricSpec("in_progress", "counter", "in-progress signals sent for batches still waiting"),
        MetricSpec("redelivered", "counter", "batches JetStream delivered more than once"),
        MetricSpec(
            "replays",
            "counter",
            "batches delivered again that this aggregator had handed on already: acked, not emitted",
        ),
        MetricSpec("future_format", "counter", "batches of a newer format version, nak'd"),
        MetricSpec(
            "corrupt",
            "counter",
            "payloads that are not a batch, dead-lettered and terminated, by reason",
        ),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._link = NatsLink(self, self.options, self._setup)
        self._sub: Any = None
        #: pulled batches waiting for their messages' acks: key -> [msg, last signal]
        #: (a redelivery of a waiting batch replaces its msg: the newest delivery is acked)
        self._outstanding: dict[Any, list[Any]] = {}
        #: batches handed on and acknowledged (key -> None, oldest first, bounded)
        self._finished_keys: dict[Any, None] = {}
        self._remember = max(10_000, 4 * self.options.max_ack_pending)
        self._room = asyncio.Event()
        self._room.set()
        self._done: deque[Any] = deque()
        self._wake = asyncio.Event()
        self._dead_file: DeadLetterFile | None = None
        self._acker_task: asyncio.Task[None] | None = None
        #: empty pulls: (since, batches handed on, the consumer's delivered sequence)
        #: while JetStream holds batches for the consumer; the reason when it is stuck
        self._look: tuple[float, float, int] | None = None
        self._next_look = 0.0
        self._stalled = ""

    # -- life --------------------------------------------------------------------------
    async def start(self) -> None:
        self._dead_file = DeadLetterFile(
            self, self.options.dead_letter, self.options.dead_letter_max_bytes
        )
        self._link.start()

    async def stop(self) -> None:
        """Wait (within the shutdown budget) for the handlers to finish what was pulled."""
        try:
            budget = max(0.5, float(self._node.pipeline.shutdown_timeout) - 1.5)
        except AttributeError:
            budget = 5.0
        deadline = time.monotonic() + budget
        while self._outstanding and time.monotonic() < deadline:
            await self._flush_acks()
            self._wake.clear()
            await wait_event(self._wake, 0.1)
        await self._flush_acks()
        if self._outstanding:
            self.log.warning(
                "stopping with %d batches unacknowledged: JetStream will deliver them again",
                len(self._outstanding),
            )
        await self._link.close()

    async def _setup(self, nc: Client) -> None:
        js = nc.jetstream(timeout=self.options.request_timeout)
        config = api.ConsumerConfig(
            durable_name=self.options.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.options.ack_wait,
            max_ack_pending=self.options.max_ack_pending,
            deliver_policy=api.DeliverPolicy.NEW
            if self.options.deliver == "new"
            else api.DeliverPolicy.ALL,
            max_deliver=-1,
        )
        if self.options.subject:
            config.filter_subject = self.options.subject
        try:
            info = await js.consumer_info(self.options.stream, self.options.durable)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(self.options.stream, config)
            self.log.info(
                "created consumer %s on stream %s", self.options.durable, self.options.stream
            )
        else:
            await self._update_consumer(js, info, config)
        if self._sub is None:  # a subscription outlives reconnections
            self._sub = await js.pull_subscribe_bind(
                durable=self.options.durable, stream=self.options.stream
            )

    async def _update_consumer(self, js: Any, info: Any, config: api.ConsumerConfig) -> None:
        """An existing consumer whose ack-wait, max-ack-pending or subject filter differ
        from the options is updated in place (JetStream keeps its acknowledgements).  A
        change the server refuses is logged and the consumer used as it is: deleting a
        consumer that other aggregators share, to create it again, would lose their
        acknowledgements in flight."""
        diffs = consumer_diffs(info.config, config)
        if not diffs:
            return
        o = self.options
        what = "; ".join(diffs)
        try:
            await js.add_consumer(o.stream, config)  # the same durable name: an update
        except nats.js.errors.APIError as exc:
            self.warn_limited(
                "consumer-differs",
                "consumer %s on stream %s differs from the options (%s) and the server "
                "refused the update: %s; used as it is",
                o.durable,
                o.stream,
                what,
                exc.description or exc,
                every=3600,
            )
            return
        self.log.info("updated consumer %s on stream %s: %s", o.durable, o.stream, what)

    # -- the pull loop -----------------------------------------------------------------
    async def run(self) -> None:
        self._link.restate()
        if self._acker_task is None or self._acker_task.done():  # once, across restarts
            self._acker_task = self.spawn(self._acker(), "nats-acks")
        failures = 0
        #: the next pull, sent before the batches in hand are decoded and handed on: the
        #: server reads and sends them while this process works (one fetch at a time)
        ahead: asyncio.Future[tuple[list[Msg], BaseException | None]] | None = None
        try:
            while True:
                if ahead is None:
                    await self._link.wait_ready()
                    want = self._room_for(0)
                    if want <= 0:
                        self._room.clear()
                        await self._room.wait()
                        continue
                    ahead = asyncio.ensure_future(self._fetch(want))
                msgs, exc = await ahead
                ahead = None
                if exc is not None:
                    if isinstance(exc, nats.errors.TimeoutError | TimeoutError):
                        failures = 0
                        await self._idle()
                        continue
                    failures += 1
                    self.warn_limited(
                        f"fetch-{type(exc).__name__}",
                        "NATS fetch: %s: %s",
                        type(exc).__name__,
                        exc,
                    )
                    await asyncio.sleep(backoff(failures, 0.2, 5.0, jitter=True))
                    continue
                failures = 0
                if self._stalled:
                    self._unstall()
                want = self._room_for(len(msgs))
                if want > 0 and self._link.ready.is_set():
                    ahead = asyncio.ensure_future(self._fetch(want))
                for msg in msgs:
                    await self._take(msg)
        finally:
            if ahead is not None:
                ahead.cancel()

    async def _idle(self) -> None:
        """An empty pull.  JetStream holding batches for the consumer (with room for more
        unacknowledged) while nobody is delivered any for ``stall-after`` is a reason in
        /health, not a silent ``ok``: nats-server 2.9.10 can keep a stream whose messages
        it cannot read (its log: ``error looking up message for consumer``), and the
        pulls then get nothing, with no error."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + self.options.stall_after / 4
        try:
            info = await self._sub.consumer_info()
        except Exception:  # the link's own state says what is wrong with it
            return
        held = info.num_pending or 0
        limit = info.config.max_ack_pending or 0
        seq = info.delivered.stream_seq if info.delivered is not None else 0
        got = self.metrics.counter("batches")
        look = self._look
        if not held or (limit > 0 and (info.num_ack_pending or 0) >= limit):
            self._look = None  # nothing to deliver, or no room: nothing is wrong
        elif look is None or look[1] != got or look[2] != seq:
            self._look = (now, got, seq)  # progress (here or at another aggregator)
        elif now - look[0] >= self.options.stall_after:
            o = self.options
            if not self._stalled:
                self.warn_limited(
                    "stalled",
                    "JetStream holds %d batch(es) for consumer %s on stream %s and delivered "
                    "none for %.0fs: the server cannot read them (see its log)",
                    held,
                    o.durable,
                    o.stream,
                    now - look[0],
                    every=600,
                )
            self._stalled = (
                f"JetStream holds {held} batch(es) for consumer {o.durable} on stream "
                f"{o.stream} and delivers none (the server cannot read them: see its log)"
            )
            self.set_health("degraded", self._stalled)  # again: a reconnection said ok
            return
        else:
            return
        if self._stalled:
            self._unstall()

    def _unstall(self) -> None:
        self.log.info("JetStream delivers again to consumer %s", self.options.durable)
        self._stalled = ""
        self._look = None
        if self._link.ready.is_set():
            self.set_health("ok")
        else:
            self._link.restate()

    def _room_for(self, in_hand: int) -> int:
        """Batches one pull may ask for: ``batch``, within ``max-outstanding`` counting
        the waiting batches and those in hand."""
        o = self.options
        return min(o.batch, o.max_outstanding - len(self._outstanding) - in_hand)

    async def _fetch(self, want: int) -> tuple[list[Msg], BaseException | None]:
        try:
            msgs = await self._sub.fetch(want, timeout=min(5.0, self.options.request_timeout))
        except Exception as exc:
            return [], exc
        return msgs, None

    async def _take(self, msg: Msg) -> None:
        token = Delivery(0, None, self.options.ack_on == "delivered")
        try:
            # every message gets the batch's token, and this collector's name on its path
            batch = wire.decode(msg.data, token, self.name)
        except wire.FutureFormat as exc:
            self.metrics.inc("future_format")
            self.warn_limited(
                "future", "a batch of a newer format, left for a newer aggregator: %s", exc
            )
            await self._reply(msg.nak(delay=self.options.nak_delay))
            return
        except wire.CorruptPayload as exc:
            self._corrupt(msg, str(exc))
            await self._reply(msg.term())
            return
        meta = _metadata(msg)
        key: Any = id(msg)
        if meta is not None:
            # the same stream message (its payload too: a stream deleted and created
            # again numbers its messages from 1 again)
            mid = msg.headers.get("Nats-Msg-Id") if msg.headers else None
            # an agent's batch id (unique per agent process), or a checksum of another's
            key = (meta.sequence.stream, mid or zlib.crc32(msg.data), len(msg.data))
            if meta.num_delivered > 1:
                self.metrics.inc("redelivered")
                if key in self._finished_keys:  # handed on already: the ack was lost
                    self.metrics.inc("replays")
                    await self._reply(msg.ack())
                    return
                waiting = self._outstanding.get(key)
                if waiting is not None:  # still here: ack the newest delivery when done
                    self.metrics.inc("replays")
                    waiting[0] = msg
                    return
        if not batch:
            await self._reply(msg.ack())
            return
        now = time.monotonic()
        self._outstanding[key] = [msg, now]
        token.pending = len(batch)
        token.callback = lambda: self._finished(key)
        self.metrics.inc("batches")
        self.metrics.received += len(batch)
        await self.emit(batch)

    def _finished(self, key: Any) -> None:
        """Every message of a pulled batch was acknowledged downstream (sync: queue the ack)."""
        self._done.append(key)
        self._wake.set()

    async def _acker(self) -> None:
        """Acks of finished batches, and in-progress signals for the ones still waiting."""
        every = max(0.2, self.options.ack_wait / 3)
        while True:
            await wait_event(self._wake, min(1.0, every))
            self._wake.clear()
            await self._flush_acks()
            now = time.monotonic()
            for waiting in list(self._outstanding.values()):
                if now - waiting[1] >= every:
                    waiting[1] = now
                    await self._reply(waiting[0].in_progress())
                    self.metrics.inc("in_progress")

    async def _flush_acks(self) -> None:
        done = self._done
        finished = self._finished_keys
        while done:
            key = done.popleft()
            waiting = self._outstanding.pop(key, None)
            if waiting is None:
                continue
            if type(key) is tuple:
                finished[key] = None
                if len(finished) > self._remember:
                    del finished[next(iter(finished))]
            await self._reply(waiting[0].ack())
            self.metrics.inc("acked")
        if len(self._outstanding) < self.options.max_outstanding:
            self._room.set()

    async def _reply(self, coro: Any) -> None:
        """An ack, nak, term or in-progress signal: a lost one means a redelivery, no more."""
        try:
            await coro
        except Exception as exc:
            self.warn_limited(
                f"reply-{type(exc).__name__}",
                "NATS acknowledgement not sent (the batch will come again): %s: %s",
                type(exc).__name__,
                exc,
            )

    def _corrupt(self, msg: Msg, reason: str) -> None:
        self.metrics.inc("corrupt", reason=reason.split(":", 1)[0][:40])
        meta = _metadata(msg)
        record = {
            "error": reason,
            "subject": msg.subject,
            "stream_seq": meta.sequence.stream if meta is not None else None,
            "payload_b64": base64.b64encode(msg.data[:65536]).decode(),
            "payload_bytes": len(msg.data),
        }
        assert self._dead_file is not None
        try:
            self._dead_file.write([record])
        except OSError as exc:
            self.metrics.errors += 1
            self.warn_limited("dead-letter-write", "dead-letter file not written: %r", exc)
        self.warn_limited(
            "corrupt",
            "an unreadable payload on %s, written to %s and terminated: %s",
            msg.subject,
            self._dead_file.path,
            reason,
        )


def consumer_diffs(have: api.ConsumerConfig, want: api.ConsumerConfig) -> list[str]:
    """What of the options an existing consumer does not have (``deliver`` only applies
    to a new consumer)."""
    out = []
    if abs((have.ack_wait or 0.0) - (want.ack_wait or 0.0)) > 1e-6:
        out.append(f"ack-wait {have.ack_wait}s -> {want.ack_wait}s")
    if (have.max_ack_pending or 0) != (want.max_ack_pending or 0):
        out.append(f"max-ack-pending {have.max_ack_pending} -> {want.max_ack_pending}")
    old, new = have.filter_subject or "", want.filter_subject or ""
    if old != new:
        out.append(f"subject {old or '(all)'!s} -> {new or '(all)'!s}")
    return out


def _metadata(msg: Msg) -> Any:
    try:
        return msg.metadata
    except Exception:
        return None
