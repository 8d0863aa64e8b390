"""What a delivering handler has accepted and not had confirmed yet: the one copy of its
backpressure bookkeeping (the HTTP handlers' :class:`~.delivery.DeliveringHandler` and the
``nats`` handler).

``pending`` counts messages accepted and not confirmed by the destination; once it
reaches ``max_pending`` the handler's input waits (:meth:`InFlight.wait_room`) until
confirmations bring it back under.  Every batch on its way is a task (:meth:`launch`);
a stop waits for them within the shutdown budget (:meth:`drain`), and what is left
unconfirmed is counted (:meth:`settle`), unless a disk buffer keeps it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ...telemetry import HandlerTally

if TYPE_CHECKING:
    from ...buffer.queue import DiskQueue
    from ...plugin import Plugin

__all__ = ["InFlight", "InFlightView", "adopt_disk", "shutdown_budget", "tally"]


class InFlight:
    """Unconfirmed messages, delivery tasks, and the wait of the input when full."""

    __slots__ = ("abandoned", "idle", "max_pending", "pending", "plugin", "room", "tasks")

    def __init__(self, plugin: Plugin, max_pending: int) -> None:
        self.plugin = plugin
        self.max_pending = max_pending
        self.pending = 0
        self.abandoned = 0  # left unconfirmed at a stop
        self.room = asyncio.Event()
        self.room.set()
        self.idle = asyncio.Event()
        self.idle.set()
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def full(self) -> bool:
        return self.pending >= self.max_pending

    async def wait_room(self, flush: Callable[[], None]) -> None:
        """Called after input was added: when full, send what is buffered and wait."""
        if self.pending >= self.max_pending:
            flush()
            self.room.clear()
            self.plugin.metrics.set_gauge("pending", self.pending)
            await self.room.wait()

    def launch(self, coro: Coroutine[Any, Any, None]) -> None:
        """A batch on its way (its task is awaited or cancelled by :meth:`drain`)."""
        self.idle.clear()
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self._done)

    def _done(self, t: asyncio.Task[None]) -> None:
        self.tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            p = self.plugin
            p.metrics.errors += 1
            p.log.error("delivery task failed: %r", t.exception(), exc_info=t.exception())
        if not self.tasks:
            self.idle.set()

    def confirmed(self, n: int) -> None:
        self.pending -= n
        if self.pending < self.max_pending and not self.room.is_set():
            self.room.set()

    async def drain(self, timeout: float, kept: bool, what: str = "") -> None:
        """At a stop: wait up to ``timeout`` for the tasks, then cancel the rest.
        ``kept``: a disk buffer holds what is not confirmed (said at INFO, not ERROR)."""
        if not self.tasks:
            return
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except TimeoutError:
            self.plugin.log.log(
                logging.INFO if kept else logging.ERROR,
                "%d messages not confirmed%s within %.1fs: %s",
                self.pending,
                what,
                timeout,
                "kept in the disk buffer" if kept else "left unacknowledged",
            )
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def settle(self, kept: bool) -> None:
        """After :meth:`drain`: what was not confirmed is abandoned (unless kept on
        disk), and nothing waits any more."""
        if not kept:  # stays unacknowledged: a replayable source sends it again
            self.abandoned += self.pending
        self.pending = 0
        self.room.set()

    def unconfirmed(self, kept: bool) -> int:
        return self.abandoned + (0 if kept else self.pending)


class InFlightView:
    """What a disk buffer reads of its handler (``buffer/queue.py``'s protocol, which the
    log handler implements with fields of its own), for a handler with an ``inflight``."""

    inflight: InFlight

    @property
    def _pending(self) -> int:
        return self.inflight.pending

    @property
    def _max_pending(self) -> int:
        return self.inflight.max_pending

    @property
    def _room(self) -> asyncio.Event:
        return self.inflight.room


def shutdown_budget(plugin: Plugin, margin: float) -> float:
    """The time a handler's stop may wait for confirmations (the pipeline's
    ``shutdown-timeout`` less ``margin``, at least half a second)."""
    try:
        total = float(plugin._node.pipeline.shutdown_timeout)
    except AttributeError:
        total = 30.0
    return max(0.5, total - margin)


def tally(inflight: InFlight, disk: DiskQueue | None, delivered: int, dead: int) -> HandlerTally:
    """A delivering handler's part of the run summary."""
    return HandlerTally(
        delivered=delivered,
        dead_lettered=dead,
        kept=disk.kept() - disk.kept_before if disk is not None else 0,
        unconfirmed=inflight.unconfirmed(disk is not None),
    )


def adopt_disk(disk: DiskQueue | None, previous: Plugin) -> None:
    """A reload: what the predecessor's disk buffer reported kept is not counted again."""
    prev = getattr(previous, "_disk", None)
    if disk is not None and prev is not None:
        disk.kept_before = max(0, prev.kept() - prev.kept_before)
