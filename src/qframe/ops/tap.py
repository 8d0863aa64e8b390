"""Live taps: the messages an instance emits (a handler: those it is handed), copied as
canonical JSON into a bounded queue per client and streamed as NDJSON from ``/tap``.

A node with no tap pays one falsy attribute check per batch (``Node.taps``).  A tapped
node encodes at most ``rate`` messages a second per client (the rest are counted as
``rate`` drops) into a queue of at most :data:`QUEUE_MAX` lines (a client that does not
keep up loses what does not fit: ``full`` drops).  Nothing waits for a client: the
pipeline never slows down for a tap.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import orjson

from ..message import Message, json_default

if TYPE_CHECKING:
    from ..runtime.node import Node

__all__ = ["QUEUE_MAX", "Tap", "TapHub"]

#: lines a client's queue holds at most
QUEUE_MAX = 4096
#: messages a second a client gets by default (0: all)
DEFAULT_RATE = 1000.0
#: how often a stream carries its counts (a ``{"tap": …}`` line) while messages flow
STATS_EVERY = 1.0


class Tap:
    """One client's tap on one or more nodes."""

    __slots__ = (
        "closed",
        "dropped_full",
        "dropped_rate",
        "last",
        "nodes",
        "queue",
        "rate",
        "sent",
        "taken",
        "tokens",
        "wake",
    )

    def __init__(self, nodes: list[Node], rate: float = DEFAULT_RATE) -> None:
        self.nodes = nodes
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()
        self.queue: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.taken = 0  # lines put into the queue
        self.sent = 0  # lines written to the client
        self.dropped_full = 0
        self.dropped_rate = 0
        self.closed = False

    def offer(self, instance: bytes, batch: list[Message]) -> None:
        """Called by a tapped node for each batch: copy what the budget and room allow."""
        n = len(batch)
        take = n
        if self.rate:
            now = time.monotonic()
            tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            take = min(n, int(tokens))
            self.tokens = tokens - take
            self.dropped_rate += n - take
        room = QUEUE_MAX - len(self.queue)
        if take > room:
            self.dropped_full += take - room
            take = room
        if take <= 0:
            return
        put = self.queue.append
        dumps = orjson.dumps
        for m in batch[:take] if take < n else batch:
            put(
                b'{"instance":'
                + instance
                + b',"message":'
                + dumps(m.to_dict(), default=json_default)
                + b"}\n"
            )
        self.taken += take
        self.wake.set()

    def stats(self, end: bool = False) -> bytes:
        return (
            orjson.dumps(
                {
                    "tap": {
                        "sent": self.sent,
                        "dropped": {"full": self.dropped_full, "rate": self.dropped_rate},
                        "end": end,
                    }
                }
            )
            + b"\n"
        )

    def attach(self) -> None:
        for node in self.nodes:
            node.taps = [*node.taps, self]  # a new list: an offer loop in flight keeps its own

    def detach(self) -> None:
        for node in self.nodes:
            node.taps = [t for t in node.taps if t is not self]

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class TapHub:
    """The taps of one ops server (closed, with their last counts, when it stops)."""

    def __init__(self) -> None:
        self.taps: set[Tap] = set()
        self.writers: set[asyncio.Task[object]] = set()

    async def close(self, timeout: float = 2.0) -> None:
        for t in list(self.taps):
            t.close()
        if self.writers:
            await asyncio.wait(list(self.writers), timeout=timeout)


def tap_batch(node: Node, batch: list[Message]) -> None:
    """Offer ``batch`` to each tap of ``node`` (the node calls it only when tapped)."""
    name = node.tap_name
    for t in node.taps:
        t.offer(name, batch)


def instance_json(name: str) -> bytes:
    return orjson.dumps(name)
