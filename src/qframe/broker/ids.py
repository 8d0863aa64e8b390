"""Stable message ids, given before a message first leaves the agent.

Exactly-once at the destination rests on them: a batch redelivered by the broker to a
second aggregator carries the same ids, and Elasticsearch's ``_id`` absorbs the replay.
Messages that have an id already (file, docker-logs: deterministic) keep it.
"""

from __future__ import annotations

import os

from ..message import Message

__all__ = ["IdSource"]


class IdSource:
    """``<12 hex digits random per process>-<sequence in hex>``: unique per agent and restart."""

    __slots__ = ("_seq", "prefix")

    def __init__(self) -> None:
        self.prefix = os.urandom(6).hex()
        self._seq = 0

    def next(self) -> str:
        self._seq += 1
        return f"{self.prefix}-{self._seq:x}"

    def take(self, n: int) -> int:
        """Reserve ``n`` ids; the first one's sequence number (ids are ``<prefix>-<hex seq>``)."""
        first = self._seq + 1
        self._seq += n
        return first

    def assign(self, batch: list[Message]) -> int:
        """Give every message without an id one; the number given."""
        n = 0
        prefix = self.prefix
        seq = self._seq
        for m in batch:
            if not m.id:
                seq += 1
                m.id = f"{prefix}-{seq:x}"
                n += 1
        self._seq = seq
        return n
