"""Following ``/events`` across engine restarts, without gaps or duplicates."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from .base import DockerCollector
from .client import DockerError, DockerProtocolError, DockerUnavailable
from .streams import JsonLines

__all__ = ["EventWatcher", "event_key"]

#: on resume, ask for events from this many seconds before the newest one seen:
#: an engine may write events slightly out of time order (Podman's file logger does)
RESUME_MARGIN_S = 2
RECENT_KEYS = 20_000


def event_key(e: dict[str, Any]) -> tuple[Any, ...]:
    actor = e.get("Actor") or {}
    return (
        e.get("timeNano") or e.get("time"),
        e.get("Type") or e.get("type"),
        e.get("Action") or e.get("status"),
        actor.get("ID") if isinstance(actor, dict) else None,
    )


def event_ns(e: dict[str, Any]) -> int:
    tn = e.get("timeNano")
    if isinstance(tn, int):
        return tn
    t = e.get("time")
    return int(t) * 1_000_000_000 if isinstance(t, int | float) else 0


class EventWatcher:
    """Streams ``/events`` for a docker collector and hands over batches of new events.

    On every (re)connection the stream is opened first, then ``on_connect(first)``
    runs (docker-events lists the running containers there, so nothing falls between
    the list and the stream).  After the engine went away, the stream is re-opened with
    ``since`` a little before the newest event seen; events seen before are recognised
    by (timeNano, type, action, actor id) and not handed over twice.  An event is
    remembered as seen only after ``handle`` returned.
    """

    def __init__(
        self,
        plugin: DockerCollector,
        filters: dict[str, list[str]],
        handle: Callable[[list[dict[str, Any]]], Awaitable[None]],
        on_connect: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self.plugin = plugin
        self.filters = filters
        self.handle = handle
        self.on_connect = on_connect
        self.last_ns = 0
        self._seen: set[tuple[Any, ...]] = set()
        self._order: deque[tuple[Any, ...]] = deque()
        self.connections = 0

    def _remember(self, keys: list[tuple[Any, ...]]) -> None:
        for k in keys:
            if k not in self._seen:
                self._seen.add(k)
                self._order.append(k)
        while len(self._order) > RECENT_KEYS:
            self._seen.discard(self._order.popleft())

    async def run(self) -> None:
        p = self.plugin
        client = p.client
        attempt = 0
        while True:
            await p.connect()
            since = None
            if self.last_ns:
                since = self.last_ns // 1_000_000_000 - RESUME_MARGIN_S
            try:
                params: dict[str, Any] = {"since": since}
                if self.filters:
                    params["filters"] = self.filters
                async with client.stream("/events", **params) as resp:
                    if self.on_connect is not None:
                        await self.on_connect(self.connections == 0)
                    self.connections += 1
                    attempt = 0
                    dec = JsonLines()
                    async for chunk in client.read_chunks(resp):
                        await self._deliver(dec, dec.feed(chunk))
                    await self._deliver(dec, dec.close())
                raise DockerUnavailable("event stream ended")
            except DockerProtocolError as exc:
                attempt += 1
                p.reject("protocol", str(exc))
                p.engine_down(exc)
            except DockerError as exc:
                attempt += 1
                p.engine_down(exc)
            if attempt > 1:  # the first retry goes at once: connect() backs off itself
                await asyncio.sleep(p.backoff(attempt - 1))

    async def _deliver(self, dec: JsonLines, events: list[dict[str, Any]]) -> None:
        if dec.errors:
            self.plugin.reject("bad_event", dec.last_error)
            dec.errors = 0
        if not events:
            return
        seen = self._seen
        fresh = []
        keys = []
        for e in events:
            k = event_key(e)
            if k in seen:
                continue
            fresh.append(e)
            keys.append(k)
        if fresh:
            await self.handle(fresh)
            self._remember(keys)
            newest = max(event_ns(e) for e in fresh)
            if newest > self.last_ns:
                self.last_ns = newest
