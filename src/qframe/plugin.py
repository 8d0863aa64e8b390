"""Base classes for the three kinds of plugins.

A plugin class has a nested ``Options`` schema (a :class:`~qframe.options.PluginOptions`
subclass), the metrics it exports (``exported_metrics``, :class:`~qframe.telemetry.MetricSpec`)
and a docstring that documents it: ``make docs`` renders all three into docs/plugins.md.  The runtime creates one instance per
configured name and gives it a context (:class:`~qframe.runtime.node.Node`) through
which it emits messages, sends Back-channel requests and reports health.

- :class:`Collector`: implement ``async run()``; call ``await self.emit(batch)``.
  ``run`` returning means "no more input" (stdin at EOF); raising means "restart me".
- :class:`Filter`: implement ``process_one(msg)`` (return the message, a list, or
  ``None`` to drop it) or ``async process(batch)`` for a whole batch.
- :class:`Handler`: implement ``async handle(batch)``; messages are acknowledged when
  it returns, unless ``manual_ack = True`` (then call :func:`ack` once the
  destination confirmed the write).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .message import Message
from .options import PluginOptions
from .ratelog import RateLimitedLog
from .telemetry import MetricSpec

if TYPE_CHECKING:
    from .runtime.node import Node
    from .telemetry import HandlerTally, PluginMetrics

__all__ = ["Collector", "Filter", "Handler", "Plugin", "ack"]


def ack(messages: Iterable[Message]) -> None:
    """Acknowledge delivery of every message that carries a delivery token."""
    # the tokens in one pass (a comprehension: 3.11 specializes its slot read, half the
    # cost of map(attrgetter)); a batch sharing one token (a collector's batch) is one
    # count; else C loops (filter, groupby) pass over the messages without a token and
    # group consecutive ones sharing a token: one done(n) per group
    acks = [m.ack for m in messages]
    if acks:
        d = acks[0]
        if d is not None and acks.count(d) == len(acks):
            d.done(len(acks))
            return
    for d, same in groupby(filter(None, acks)):
        d.done(len(list(same)))


class Plugin:
    """Common ground of collectors, filters and handlers."""

    Options: ClassVar[type[PluginOptions]] = PluginOptions
    #: set by the registry from the entry-point name
    kind: ClassVar[str] = ""
    #: "collector" | "filter" | "handler"
    type: ClassVar[str] = ""
    version: ClassVar[str] = "0.1.0"
    #: the counters and gauges the plugin sets besides the core ones (received, emitted,
    #: dropped, errors, restarts, queue depth, up); a subclass adds to its bases' (see
    #: :meth:`metric_specs`); setting one not declared fails the tests
    exported_metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    #: the plugin sets ``source_success`` (False for what it did not match, like grok):
    #: the config warns when no consumer takes ``source-success: false`` (or ``any``)
    sets_source_success: ClassVar[bool] = False
    #: a collector or filter whose output may go unconsumed (it is useful for the
    #: Back-channel requests it answers, like the inventory): no "nobody consumes its
    #: output" warning
    may_have_no_consumer: ClassVar[bool] = False

    def __init__(self, name: str, options: PluginOptions, node: Node) -> None:
        self.name = name
        self.options = options
        self._node = node
        self.log = logging.getLogger(f"qframe.plugin.{name}")
        self.metrics: PluginMetrics = node.metrics
        self._ratelog = RateLimitedLog(self.log)

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Connect, bind, open files.  Raise to abort start-up (exit 1)."""

    async def stop(self) -> None:
        """Flush and close.  Handlers must have written (and acknowledged) what they hold."""

    async def on_tick(self) -> None:
        """Called every tick (global ``tick`` or own ``ticker-ms``) when overridden."""

    def adopt(self, previous: Plugin) -> None:
        """On a reload (SIGHUP), before :meth:`start`: ``previous`` is the stopped instance
        of the same name and kind in the pipeline being replaced.  Take over state worth
        keeping (an index, a cache, what ``previous`` left in :meth:`hand_over`); its
        options differ (a collector whose options did not change is not replaced: it keeps
        running).  Default: nothing."""

    def hand_over(self, successor: Plugin | None) -> None:
        """On a reload, before :meth:`stop`: this instance is replaced by ``successor`` (same
        name and kind, other options; it adopts this one once stopped) or removed (None).
        A collector may leave open in ``stop`` what the successor can serve on (a listening
        socket whose address did not change, open connections) instead of closing it, and
        counts what it has to close.  Default: nothing."""

    def reload_kept(self) -> None:
        """On a reload that keeps this instance running (its options did not change):
        re-read what its options name and may have changed on disk (TLS certificates).
        Default: nothing."""

    async def handed_over(self) -> None:
        """After a reload (the successor started, or the previous config was restarted):
        close what was left for a successor and not taken, counted.  Default: nothing."""

    # -- Back channel ------------------------------------------------------------
    def on_request(self, request: Any, reply: asyncio.Future[Any]) -> None:
        """Answer a Back-channel request: set ``reply``'s result now or later.

        ``reply`` may be cancelled by the requester's timeout: check ``reply.done()``.
        """
        if not reply.done():
            reply.set_exception(NotImplementedError(f"{self.name} does not answer requests"))

    async def request(self, target: str, request: Any, timeout: float = 2.0) -> Any:
        """Send ``request`` to the instance named ``target`` and await its reply.

        Raises :class:`~qframe.errors.RequestTimeout` or :class:`~qframe.errors.UnknownTarget`.
        """
        return await self._node.pipeline.request(target, request, timeout)

    def has_instance(self, name: str) -> bool:
        return self._node.pipeline.find(name) is not None

    # -- output ------------------------------------------------------------------
    async def emit(self, batch: list[Message]) -> None:
        """Send a batch to this instance's subscribers (waits when their queues are full)."""
        await self._node.emit(batch)

    def emit_nowait(self, batch: list[Message]) -> bool:
        """Send a batch if every subscriber has room; False (nothing sent) otherwise."""
        return self._node.emit_nowait(batch)

    def drop(self, messages: Message | Iterable[Message], reason: str) -> None:
        """Count messages as dropped (by reason) and acknowledge them."""
        ms = [messages] if isinstance(messages, Message) else list(messages)
        self.metrics.drop(reason, len(ms))
        ack(ms)

    def warn_limited(
        self,
        key: str,
        fmt: str,
        *args: Any,
        every: float = 10.0,
        burst: int = 1,
        exc: BaseException | None = None,
    ) -> bool:
        """A warning logged at most ``burst`` times per ``every`` seconds per ``key``."""
        return self._ratelog.warning(key, fmt, *args, every=every, burst=burst, exc=exc)

    # -- health, files, http -------------------------------------------------------
    def set_health(self, state: str, reason: str = "") -> None:
        """``ok`` | ``degraded`` | ``failed``; shown in ``/health`` and ``qframe_up``."""
        if state != self.metrics.state or reason != self.metrics.state_reason:
            self.metrics.state = state
            self.metrics.state_reason = reason

    @property
    def data_dir(self) -> Path:
        """A directory of this instance's own under the global ``data-dir`` (created)."""
        p = self._node.pipeline.data_dir / f"{self.type}.{self.name}"
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def tick_interval(self) -> float:
        return self._node.tick_interval

    def http_routes(self) -> list[tuple[str, str, Callable[..., Awaitable[Any]]]]:
        """(method, path, aiohttp handler) triples served on the global ``http`` server."""
        return []

    def spawn(self, coro: Awaitable[Any], name: str = "") -> asyncio.Task[Any]:
        """Start a background task owned by this instance (cancelled at stop, errors logged)."""
        return self._node.spawn(coro, name)

    @classmethod
    def wants_tick(cls) -> bool:
        return cls.on_tick is not Plugin.on_tick

    @classmethod
    def metric_specs(cls) -> list[MetricSpec]:
        """``exported_metrics`` of this class and its bases (a subclass's own win)."""
        specs: dict[tuple[str, str], MetricSpec] = {}
        for c in reversed(cls.__mro__):
            for spec in c.__dict__.get("exported_metrics", ()):
                specs[(spec.name, spec.type)] = spec
        return list(specs.values())


class Collector(Plugin):
    type = "collector"
    #: how ``workers`` > 1 shares this collector's work among processes (see
    #: :mod:`qframe.runtime.sharing`): ``"sockets"`` (N listening sockets on one address,
    #: ``SO_REUSEPORT``: :meth:`shared_address`), ``"files"`` (a partition of the sources
    #: each: :meth:`share_work`); empty: it runs in one process
    shares_work: ClassVar[str] = ""

    @classmethod
    def workers_refusal(cls, options: PluginOptions) -> str:
        """The reason ``options`` cannot share the work (``workers`` > 1), or ""."""
        if not cls.shares_work:
            return (
                "only the tcp, gelf and file collectors share their work among processes "
                "(a filter's `workers` gives a pipeline more cores)"
            )
        return ""

    @classmethod
    def shared_address(cls, options: PluginOptions) -> tuple[str, int, int]:
        """``shares_work = "sockets"``: (host, port, socket type) the workers serve."""
        raise NotImplementedError

    def share_work(self, index: int, count: int, report: Callable[[Any], None]) -> None:
        """In worker process ``index`` of ``count``, before :meth:`start`: take only this
        worker's share of the sources; ``report(data)`` sends what the main process keeps
        for the whole (:meth:`write_shared_reports`).  Default: nothing (sockets)."""

    @classmethod
    def write_shared_reports(cls, data_dir: Path, reports: list[Any]) -> None:
        """In the main process: the latest report of every worker (a file collector's
        checkpoint records), to be kept as one (written at each new report and at stop)."""

    async def run(self) -> None:
        """Produce messages until there is no more input (return) or forever."""
        raise NotImplementedError

    async def receive(self, batch: list[Message]) -> None:
        """Messages from this collector's own ``inputs`` (e.g. docker-stats ← docker-events)."""


class Filter(Plugin):
    type = "filter"
    #: why this filter cannot run in worker processes (``workers`` > 1): it needs the Back
    #: channel, emits on its own, or keeps state across messages; empty: it can
    workers_refused: ClassVar[str] = ""

    @classmethod
    def workers_refusal(cls, options: PluginOptions) -> str:
        """The reason ``options`` cannot run in workers, or "" (default: the class's)."""
        return cls.workers_refused

    # -- the texts-only way through workers (docs/design-notes.md, "Filter workers") --
    # A filter whose work on a batch needs only the messages' texts and changes only
    # their fields, source_success and tags (grok on ``message``) may implement these
    # three: only the texts cross to a worker, one JSON object per text comes back, and
    # the main process puts it on its message as it is (``_fields`` as bytes).
    def worker_texts(self, batch: list[Message]) -> list[str] | None:
        """Main process, ``workers`` > 1: the texts of ``batch`` that :meth:`process_texts`
        does its work on, or None (the default): the messages cross whole."""
        return None

    def process_texts(self, texts: list[str]) -> tuple[list[bytes], Any]:
        """Worker process: for each text the JSON object of its message's new fields
        (``b""``: none; orjson's output, which holds no raw newline), and what else
        :meth:`apply_texts` needs (JSON-encodable). Counts its metrics as :meth:`process`
        would. Raising sends the batch the general way (whole messages)."""
        raise NotImplementedError

    def apply_texts(self, batch: list[Message], fields: list[Any], extra: Any) -> None:
        """Main process: :meth:`process_texts`'s result onto ``batch``, in place;
        ``fields[i]`` is the bytes of the i-th message's new fields or None."""
        raise NotImplementedError

    def process_one(self, msg: Message) -> Message | list[Message] | None:
        return msg

    async def process(self, batch: list[Message]) -> list[Message]:
        """Default: apply :meth:`process_one` to every message; ``None`` drops (and acks)."""
        out: list[Message] = []
        one = self.process_one
        for m in batch:
            r = one(m)
            if r is m:
                out.append(m)
            elif r is None:
                self.drop(m, "filtered")
            elif isinstance(r, list):
                out.extend(r)
            else:
                out.append(r)
        return out


class Handler(Plugin):
    type = "handler"
    #: when True the handler calls ``ack(messages)`` itself once the destination confirmed
    manual_ack: ClassVar[bool] = False

    async def handle(self, batch: list[Message]) -> None:
        raise NotImplementedError

    def tally(self) -> HandlerTally | None:
        """What became of the messages taken so far (the run's summary reads it at the end).

        None (the default): a message is delivered when ``handle()`` returned. A
        ``manual_ack`` handler reports its own counts.
        """
        return None
