"""docker-logs ``multiline``: lines joined per (container, stream), checkpoints kept exact.

A line's position is ``Position(ts_ns, seq)``: resuming from it skips the ``seq`` lines
stamped ``ts_ns`` before it (see :mod:`qframe.docker.positions`).  While a message is
pending (lines held back, not yet sent), a batch's checkpoint position is that of the
first held line at most, so a restart reads the held lines again and the message comes
whole, with the same id (that of its first line).  Lines of the other stream sent
after it are then read again too, with their ids unchanged (a destination keyed by id
stores them once).
"""

from __future__ import annotations

import time

from ...docker.positions import AckTracker, LineCounter, Position
from ...docker.streams import STREAM_NAMES, LogLine
from ...message import ContainerInfo, Message, new_log
from ..common.multiline import Event, Multiline, MultilineOptions

__all__ = ["LogJoiner"]


class _Container:
    __slots__ = ("counter", "info", "joins", "tracker")

    def __init__(self, info: ContainerInfo, counter: LineCounter, tracker: AckTracker) -> None:
        self.info = info
        self.counter = counter
        self.tracker = tracker
        self.joins: dict[int, Multiline] = {}


class LogJoiner:
    """The pending messages of every followed container."""

    def __init__(self, options: MultilineOptions, source: str) -> None:
        self.options = options
        self.source = source
        self.containers: dict[str, _Container] = {}

    def reading(
        self, cid: str, info: ContainerInfo, counter: LineCounter, tracker: AckTracker
    ) -> None:
        """A read of the container's log starts (nothing may be pending: see :meth:`end`)."""
        self.containers[cid] = _Container(info, counter, tracker)

    def safe(self, cid: str) -> Position:
        """The checkpoint position: before the first held line, or after the last line."""
        c = self.containers[cid]
        pos = c.counter.position
        for ml in c.joins.values():
            start = ml.pending_start
            if start is not None and start < pos:
                pos = start
        return pos

    def message(self, cid: str, stream: int, ev: Event, truncated: list[int]) -> Message:
        c = self.containers[cid]
        text, start, _end, dropped, nlines = ev
        ts, seq = start
        m = new_log(
            text,
            ts / 1e9 if ts else time.time(),
            "",
            [self.source],
            f"{cid}:{ts}:{seq}",
            {"stream": STREAM_NAMES.get(stream, "stdout")},
            None,
            c.info,
        )
        if nlines > 1:
            m.fields["lines"] = nlines
        if dropped:
            m.add_tag("_truncated")
            truncated[0] += 1
        return m

    def feed(
        self, cid: str, lines: list[LogLine], truncated: list[int]
    ) -> tuple[list[Message], int]:
        """Finished messages of ``lines`` and how many lines were replayed (skipped)."""
        c = self.containers[cid]
        accept = c.counter.accept
        joins = c.joins
        out: list[Message] = []
        events: list[Event] = []
        replayed = 0
        now = time.monotonic()
        for ln in lines:
            ts = ln.ts_ns
            seq = accept(ts)
            if seq < 0:
                replayed += 1
                continue
            ml = joins.get(ln.stream)
            if ml is None:
                ml = joins[ln.stream] = Multiline(self.options)
            ml.feed(
                ln.text.decode("utf-8", "replace"), Position(ts, seq), None, events, ln.truncated
            )
            ml.last_line_at = now
            if events:
                out.extend(self.message(cid, ln.stream, ev, truncated) for ev in events)
                events.clear()
        return out, replayed

    def due(self, truncated: list[int], final_cid: str = "") -> list[tuple[str, list[Message]]]:
        """Messages idle for ``timeout`` (or every pending one of ``final_cid``)."""
        limit = time.monotonic() - self.options.timeout
        out: list[tuple[str, list[Message]]] = []
        for cid, c in self.containers.items():
            if final_cid and cid != final_cid:
                continue
            msgs = []
            for stream, ml in c.joins.items():
                if ml.pending_start is not None and (final_cid or ml.last_line_at <= limit):
                    ev = ml.flush()
                    assert ev is not None
                    msgs.append(self.message(cid, stream, ev, truncated))
            if msgs:
                out.append((cid, msgs))
        return out

    def end(self, cid: str) -> None:
        self.containers.pop(cid, None)
