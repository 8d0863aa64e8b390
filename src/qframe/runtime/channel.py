"""A bounded queue of message batches, counted in messages, with a tick flag.

The producer side (``put``) waits while the queue holds ``capacity`` messages or more:
that wait is the backpressure that makes collectors stop reading.  The consumer side
(``get``) takes every queued batch at once (up to ``max_messages``) so a slow consumer
catches up with large batches instead of many wake-ups.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..batch import Runs, read_ends
from ..message import Message

__all__ = ["TICK", "Channel"]


class _Tick:
    def __repr__(self) -> str:
        return "TICK"


TICK = _Tick()


class Channel:
    __slots__ = ("_batches", "_getter", "_putters", "_tick", "capacity", "closed", "count")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0
        self.closed = False
        self._batches: deque[list[Message]] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()
        self._tick = False

    def __len__(self) -> int:
        return self.count

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def _wake_getter(self) -> None:
        g = self._getter
        if g is not None:
            self._getter = None
            if not g.done():
                g.set_result(None)

    def _wake_putters(self) -> None:
        while self._putters and self.count < self.capacity:
            p = self._putters.popleft()
            if not p.done():
                p.set_result(None)

    async def put(self, batch: list[Message]) -> bool:
        """Queue ``batch``, waiting while full; False (nothing queued) once closed."""
        if not batch:
            return True
        while self.count >= self.capacity and not self.closed:
            fut = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._putters:
                    self._putters.remove(fut)
                # pass the wake-up on so that no other producer stays blocked
                self._wake_putters()
                raise
        if self.closed:
            return False
        self._batches.append(batch)
        self.count += len(batch)
        self._wake_getter()
        return True

    def put_nowait(self, batch: list[Message]) -> bool:
        """Queue ``batch`` when there is room; return False (and queue nothing) when full."""
        if self.count >= self.capacity:
            return False
        if batch:
            self._batches.append(batch)
            self.count += len(batch)
            self._wake_getter()
        return True

    def push(self, batch: list[Message]) -> None:
        """Queue ``batch`` even beyond the capacity (a reload's held batches, once)."""
        if batch:
            self._batches.append(batch)
            self.count += len(batch)
            self._wake_getter()

    def take_all(self) -> list[Message]:
        """Empty the queue: every message it held (an abandoned consumer's)."""
        out = [m for b in self._batches for m in b]
        self._batches.clear()
        self.count = 0
        self._wake_putters()
        return out

    async def get(self, max_messages: int = 4096) -> list[Message] | _Tick | None:
        """Next batch, ``TICK``, or ``None`` once closed and empty."""
        while True:
            if self._tick:
                self._tick = False
                return TICK
            if self._batches:
                first = self._batches.popleft()
                if self._batches and len(first) < max_messages:
                    first = self._merge(first, max_messages)
                self.count -= len(first)
                if self._putters:
                    self._wake_putters()
                return first
            if self.closed:
                return None
            fut = asyncio.get_running_loop().create_future()
            self._getter = fut
            await fut

    def _merge(self, first: list[Message], max_messages: int) -> list[Message]:
        """``first`` and the batches after it, up to ``max_messages``; reads
        (:class:`~qframe.batch.UniformBatch`, :class:`~qframe.batch.Runs`) merged keep
        where each one ends (a plain list once any other batch is merged)."""
        ends = read_ends(first)
        merged: list[Message] = Runs(first, ends.copy()) if ends is not None else first.copy()
        batches = self._batches
        while batches and len(merged) + len(batches[0]) <= max_messages:
            nxt = batches.popleft()
            if ends is not None:
                more = read_ends(nxt)
                if more is None:
                    ends = None
                    merged = list(merged)
                else:
                    at = len(merged)
                    merged.ends.extend([e + at for e in more])  # type: ignore[attr-defined]
            merged.extend(nxt)
        return merged

    def tick(self) -> None:
        self._tick = True
        self._wake_getter()

    def close(self) -> None:
        self.closed = True
        self._wake_getter()
        while self._putters:
            p = self._putters.popleft()
            if not p.done():
                p.set_result(None)
