"""The inventory filter: keeps every container, answers queries, enriches messages."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ....inventory import ContainerQuery, ContainerReply
from ....message import KIND_EVENT, ContainerInfo, Message
from ....options import Duration, Field, PluginOptions
from ....plugin import Filter, Plugin
from ....telemetry import MetricSpec
from .index import ContainerIndex, Entry, norm_id
from .waiting import (
    Held,
    Key,
    PendingQuery,
    WaitIndex,
    describe_keys,
    from_pod_path,
    message_keys,
    query_keys,
)

__all__ = ["InventoryFilter"]

#: at most one warning per reason in this many seconds
LOG_EVERY = 10.0


class InventoryFilter(Filter):
    """Keeps the inventory of containers from ``docker-events``; answers lookups; enriches.

    **Inventory.** Every container event (``kind: event``, ``fields.type: container``,
    including the ``running`` events the collector sends at start) updates the entry of
    ``fields.actor_id`` with its ``container`` (id, name, image, image_id, labels, ips,
    created, command, service/task slots).  Containers are found by full id, id prefix
    (12 characters or more), name (with or without the leading ``/``) and every IP, in
    O(1).  A container matches once it has started; after ``destroy``/``remove`` it still
    matches for ``retain`` (late lines), then it is forgotten.

    **Back channel.** ``await self.request("inventory", ContainerQuery(ip=…, timeout=2))``
    from any plugin: answered at once when known; else kept pending, answered as soon as
    the container appears (and re-checked on every tick), and after ``timeout`` answered
    with ``ContainerReply(container=None)`` (explicit not found).  Empty keys never match.

    **Enrichment.** Messages from other inputs that name a container (``container.id`` or
    ``fields.container_id``, ``container.name`` or ``fields.container_name``, or the
    sender's ``fields.remote_ip`` set by the tcp/gelf collectors) get ``container``
    attached.  When it is not known yet, the message waits up to ``wait`` without holding
    up the others, then goes on unchanged, tagged ``_inventory_miss``: never dropped
    (acknowledgement tokens travel with it).  Loopback senders and messages that came
    with a complete ``container`` (name and image) do not wait.  The pod metadata a
    container log file's path gives (file ``format: cri``/``docker-json``: pod namespace,
    name, uid, container name, restart count) is looked up by the container id only (the
    kubelet's link carries it; a name from the path is the pod's, not the engine's): the
    engine's container is attached with those labels added; without an id the message
    passes untouched.  Container events
    themselves pass through untouched; a message that cannot be read goes on tagged
    ``_filtererror``.

    **Ops endpoint** (on the global ``http`` server): ``GET /inventory/containers`` lists
    the inventory; ``?name=N`` (or ``id=``, ``ip=``) ``&wait=20s`` long-polls through the
    Back channel: 200 with the container's JSON, 404 when not found within the wait.

    Metrics: ``qframe_requests_total{result=found|not_found|timeout|abandoned|shutdown}``,
    ``qframe_enriched_total{by=id|name|ip|wait}``,
    ``qframe_missed_total{reason=timeout|loopback|not_found|held_full|shutdown}``,
    ``qframe_evicted_total``, ``qframe_rejected_total{reason=event_without_id|…}``; gauges
    ``qframe_containers``, ``qframe_pending_requests``, ``qframe_held_messages``.

    Logs (the seed's): ``SUCCESS > Request: /web1 (pending: 1)`` and
    ``TIMEOUT > Request: /web9 not found after 2.0s (pending: 0)`` at info; requests,
    container changes and ticks at debug.

    Example: a tcp line from 10.88.0.5, enriched::

        {"@timestamp": "2026-11-26T05:00:00.123456Z", "kind": "log", "message": "hello",
         "source_path": ["tcp", "inventory"], "fields": {"remote_ip": "10.88.0.5"},
         "container": {"id": "4f3c…", "name": "web1", "image": "localhost/busybox:latest",
                       "ips": {"podman": "10.88.0.5"}}}
    """

    may_have_no_consumer = True
    workers_refused = (
        "it answers Back-channel requests from its container index and emits held messages "
        "itself: one process holds that state"
    )

    class Options(PluginOptions):
        retain: Duration = Field(
            "5m", description="how long a destroyed/removed container still resolves (late lines)"
        )
        wait: Duration = Field(
            "2s", description="how long a message waits for its unknown container (0: not at all)"
        )
        miss_tag: str = Field(
            "_inventory_miss", description="tag of messages whose container was not found"
        )
        max_held: int = Field(
            10_000, ge=0, description="messages waiting at most; more go on at once, tagged"
        )
        max_pending: int = Field(
            10_000, ge=0, description="pending requests at most; more are answered not found"
        )
        http_path: str = Field(
            "/inventory/containers", description="path of the ops endpoint on the http server"
        )
        max_poll_wait: Duration = Field(
            "5m", description="the longest wait a long-poll on the ops endpoint may ask for"
        )

    exported_metrics = (
        MetricSpec("requests", "counter", "Back-channel lookups answered, by result"),
        MetricSpec(
            "enriched",
            "counter",
            "messages given their container, by what found it (id, name, ip, wait)",
        ),
        MetricSpec("missed", "counter", "messages sent on without a container, by reason"),
        MetricSpec("evicted", "counter", "containers forgotten after retain"),
        MetricSpec("rejected", "counter", "events that cannot be used, by reason"),
        MetricSpec("containers", "gauge", "containers known"),
        MetricSpec("pending_requests", "gauge", "lookups waiting for their container"),
        MetricSpec("held_messages", "gauge", "messages held for their container"),
    )

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.index = ContainerIndex()
        self.pending: WaitIndex[PendingQuery] = WaitIndex()
        self.held: WaitIndex[Held] = WaitIndex()
        self._held_order: deque[Held] = deque()
        self._held_wake = asyncio.Event()
        self._warned: dict[str, float] = {}
        self._stopping = False
        #: (pod metadata, engine container) by their ids → the two merged (one object per
        #: pair, so a file's lines keep sharing their container)
        self._merged: dict[tuple[int, int], tuple[ContainerInfo, ContainerInfo, ContainerInfo]] = {}

    # -- life --------------------------------------------------------------------------
    def adopt(self, previous: Plugin) -> None:
        """After a reload the containers known so far, those in their grace period too,
        are kept: docker-events only replays the running ones."""
        if isinstance(previous, InventoryFilter):
            self.index = previous.index

    async def start(self) -> None:
        self._stopping = False
        self.spawn(self._release_expired(), "held-messages")
        self._gauges()

    async def stop(self) -> None:
        self._stopping = True
        for p in self.pending:
            self._answer(p, None, "shutdown")
        rest = [h for h in self._held_order if not h.done]
        self._held_order.clear()
        for h in rest:
            self.held.discard(h)
            h.done = True
            h.msg.add_tag(self.options.miss_tag)
        if rest:
            self.metrics.inc("missed", len(rest), reason="shutdown")
            await self.emit([h.msg for h in rest])
        self._gauges()

    # -- data path ---------------------------------------------------------------------
    async def process(self, batch: list[Message]) -> list[Message]:
        out: list[Message] = []
        hits = {"id": 0, "name": 0, "ip": 0}
        resolve = self.index.resolve
        for m in batch:
            try:
                if m.kind == KIND_EVENT:
                    f = m.fields
                    if f.get("type") == "container" and "action" in f:
                        self._apply_event(m, out)
                        out.append(m)
                        continue
                keys = message_keys(m)
                if not keys:
                    out.append(m)
                    continue
                for kind, key in keys:
                    entry = resolve(kind, key)
                    if entry is not None:
                        self._attach(m, entry.info)
                        hits[kind] += 1
                        out.append(m)
                        break
                else:
                    self._not_found(m, keys, out)
            except Exception as exc:
                # one odd message must not stop the others: it goes on, tagged
                self.metrics.errors += 1
                self._warn("error", "cannot process %r: %r", m, exc)
                m.add_tag("_filtererror")
                if not out or out[-1] is not m:
                    out.append(m)
        for kind, n in hits.items():
            if n:
                self.metrics.inc("enriched", n, by=kind)
        return out

    def _apply_event(self, m: Message, out: list[Message]) -> None:
        f = m.fields
        action = f.get("action")
        info = m.container
        if info is None or not norm_id(info.id):
            cid = norm_id(f.get("actor_id"))
            if not cid or not isinstance(action, str):
                self.metrics.inc("rejected", reason="event_without_id")
                self._warn("event_without_id", "container event without a usable id: %r", m)
                return
            if info is not None:
                info = ContainerInfo.from_dict({**info.to_dict(), "id": cid})
            else:
                attrs = f.get("attributes")
                attrs = attrs if isinstance(attrs, dict) else {}
                info = ContainerInfo(
                    id=cid, name=str(attrs.get("name") or ""), image=str(attrs.get("image") or "")
                )
        if not isinstance(action, str):
            self.metrics.inc("rejected", reason="event_without_action")
            self._warn("event_without_action", "container event without an action: %r", m)
            return
        # "health_status: healthy", "exec_start: sh -c …": the action is the part before ":"
        action = action.split(":", 1)[0].strip()
        entry = self.index.apply(action, info, time.monotonic())
        self.log.debug("container %s (%s): %s", info.name, info.id[:12], action)
        if entry is not None and entry.gone_at is None:
            self._release(entry, out)
        self._gauges()

    def _release(self, entry: Entry, out: list[Message]) -> None:
        """The container of ``entry`` is matchable: answer its waiters."""
        cid = norm_id(entry.info.id)
        if len(self.pending):
            for p in self.pending.take(entry, cid):
                self._answer(p, entry, "found", taken=True)
        if len(self.held):
            info = entry.info
            n = 0
            for h in self.held.take(entry, cid):
                h.done = True
                self._attach(h.msg, info)
                out.append(h.msg)
                n += 1
            if n:
                self.metrics.inc("enriched", n, by="wait")

    def _attach(self, m: Message, info: ContainerInfo) -> None:
        """``m`` gets its engine container; pod metadata from a log file's path stays, as
        labels added to the engine's."""
        c = m.container
        if c is None or c is info or not from_pod_path(c):
            m.container = info
            return
        key = (id(c), id(info))
        hit = self._merged.get(key)
        if hit is None or hit[0] is not c or hit[1] is not info:
            if len(self._merged) >= 4096:
                self._merged.clear()
            merged = ContainerInfo.from_dict(
                {**info.to_dict(), "labels": {**info.labels, **c.labels}}
            )
            hit = self._merged[key] = (c, info, merged)
        m.container = hit[2]

    def _not_found(self, m: Message, keys: tuple[Key, ...], out: list[Message]) -> None:
        """No container for ``m`` yet: let it wait (or go on tagged)."""
        c = m.container
        if c is not None and c.name and c.image:
            out.append(m)  # it came with its container: nothing to wait for
            return
        if len(keys) == 1 and keys[0][0] == "ip" and _is_loopback(keys[0][1]):
            self._miss(m, "loopback", out)
        elif self.options.wait <= 0:
            self._miss(m, "not_found", out)
        elif len(self.held) >= self.options.max_held or self._stopping:
            self._miss(m, "held_full" if not self._stopping else "shutdown", out)
            self._warn("held_full", "%d messages are waiting already: not waiting", len(self.held))
        else:
            h = Held(m, keys, time.monotonic() + self.options.wait)
            self.held.add(h)
            self._held_order.append(h)
            if len(self._held_order) == 1:
                self._held_wake.set()

    def _miss(self, m: Message, reason: str, out: list[Message]) -> None:
        m.add_tag(self.options.miss_tag)
        self.metrics.inc("missed", reason=reason)
        out.append(m)

    async def _release_expired(self) -> None:
        """Send on, tagged, the held messages whose wait is over (one task, in order)."""
        order = self._held_order
        tag = self.options.miss_tag
        while True:
            while order and order[0].done:
                order.popleft()
            if not order:
                self._held_wake.clear()
                await self._held_wake.wait()
                continue
            delay = order[0].deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            now = time.monotonic()
            batch: list[Message] = []
            while order and (order[0].done or order[0].deadline <= now):
                h = order.popleft()
                if h.done:
                    continue
                h.done = True
                self.held.discard(h)
                h.msg.add_tag(tag)
                batch.append(h.msg)
            if batch:
                self.metrics.inc("missed", len(batch), reason="timeout")
                self._gauges()
                await self.emit(batch)

    # -- Back channel ------------------------------------------------------------------
    def on_request(self, request: Any, reply: asyncio.Future[Any]) -> None:
        if reply.done():
            return
        if not isinstance(request, ContainerQuery):
            reply.set_exception(
                TypeError(f"{self.name} answers ContainerQuery, not {type(request).__name__}")
            )
            return
        try:
            self._query(request, reply)
        except Exception as exc:  # a malformed query gets an error, never silence
            if not reply.done():
                reply.set_exception(exc)

    def _query(self, request: ContainerQuery, reply: asyncio.Future[Any]) -> None:
        keys = query_keys(request)
        what = describe_keys(keys) if keys else "(no key)"
        self.log.debug(
            "Request: %s (timeout %.1fs, pending: %d)", what, request.timeout, len(self.pending)
        )
        entry = self.index.find(request.id, request.name, request.ip) if keys else None
        now = time.monotonic()
        p = PendingQuery(request, keys, reply, now)
        if entry is not None:
            self._answer(p, entry, "found")
            return
        if not keys or request.timeout <= 0 or self._stopping:
            self._answer(p, None, "not_found")
            return
        if len(self.pending) >= self.options.max_pending:
            self._warn("max_pending", "%d requests pending: answering not found", len(self.pending))
            self._answer(p, None, "not_found")
            return
        self.pending.add(p)
        p.timer = asyncio.get_running_loop().call_later(request.timeout, self._expire, p)
        reply.add_done_callback(lambda _f: self._forget(p))
        self.log.debug("PENDING > Request: %s (pending: %d)", what, len(self.pending))
        self._gauges()

    def _answer(
        self, p: PendingQuery, entry: Entry | None, result: str, taken: bool = False
    ) -> None:
        if not taken:
            self.pending.discard(p)
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None
        p.done = True
        fut = p.future
        self.metrics.inc("requests", result=result)
        if fut.done():
            return  # the requester gave up (its own timeout)
        fut.set_result(ContainerReply(p.query, entry.info if entry is not None else None))
        what = describe_keys(p.keys) if p.keys else "(no key)"
        n = len(self.pending)
        if result == "found":
            self.log.info("SUCCESS > Request: %s (pending: %d)", what, n)
        elif result == "timeout":
            self.log.info(
                "TIMEOUT > Request: %s not found after %.1fs (pending: %d)",
                what,
                p.query.timeout,
                n,
            )
        else:
            self.log.debug("NOT FOUND > Request: %s (%s, pending: %d)", what, result, n)
        self._gauges()

    def _expire(self, p: PendingQuery) -> None:
        p.timer = None
        if not p.done:
            self._answer(p, None, "timeout")

    def _forget(self, p: PendingQuery) -> None:
        """The reply is settled (or the requester cancelled it): stop tracking it."""
        if not p.done:
            p.done = True
            self.pending.discard(p)
            if p.timer is not None:
                p.timer.cancel()
                p.timer = None
            self.metrics.inc("requests", result="abandoned")
            self._gauges()

    # -- tick --------------------------------------------------------------------------
    async def on_tick(self) -> None:
        now = time.monotonic()
        for e in self.index.evict(now, self.options.retain):
            self.metrics.inc("evicted")
            self.log.debug("evicted %s (%s)", e.info.name, e.info.id[:12])
        for p in self.pending:
            q = p.query
            entry = self.index.find(q.id, q.name, q.ip)
            if entry is not None:
                self._answer(p, entry, "found")
            elif p.deadline <= now:
                self._answer(p, None, "timeout")
        self._gauges()
        self.log.debug(
            "Tick: %d containers (%d gone), %d pending requests, %d held messages",
            len(self.index),
            self.index.gone,
            len(self.pending),
            len(self.held),
        )

    # -- ops endpoint --------------------------------------------------------------------
    def http_routes(self) -> list[tuple[str, str, Callable[..., Awaitable[Any]]]]:
        from .http import containers_handler

        return [("GET", self.options.http_path, containers_handler(self))]

    # -- helpers -------------------------------------------------------------------------
    def _gauges(self) -> None:
        g = self.metrics.set_gauge
        g("containers", len(self.index))
        g("pending_requests", len(self.pending))
        g("held_messages", len(self.held))

    def _warn(self, reason: str, fmt: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._warned.get(reason, -LOG_EVERY) >= LOG_EVERY:
            self._warned[reason] = now
            self.log.warning(fmt, *args)


def _is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"
