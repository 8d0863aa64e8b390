"""Multiline aggregation: shared with the other log collectors (see common.multiline).

A file has one joiner per stream (:class:`StreamLines`): a plain file one, a container
log file (``format: cri`` / ``docker-json``) one for stdout and one for stderr, whose lines
interleave in the file but never join each other's.
"""

from __future__ import annotations

import time
from typing import Any

from ...common.multiline import Event, Multiline, MultilineOptions

__all__ = ["Event", "Multiline", "StreamLines"]


class StreamLines:
    """One :class:`Multiline` per stream of a file, and what each held line carries.

    :meth:`feed` takes a line of one stream with its ``meta`` (a container log line's
    time, stream and tags; None for a plain file) and appends each finished message as
    ``(event, meta of its first line)``.  The positions are file offsets: the commit point
    stays before the first line any stream holds (:attr:`pending_start`).
    """

    __slots__ = ("_held", "joiners", "options")

    def __init__(self, options: MultilineOptions) -> None:
        self.options = options
        self.joiners: dict[str, Multiline] = {}
        #: per stream, the meta of its held lines by offset (in file order)
        self._held: dict[str, dict[int, Any]] = {}

    @property
    def pending_start(self) -> int | None:
        """Offset of the first line held back by any stream."""
        starts = [s for j in self.joiners.values() if (s := j.pending_start) is not None]
        return min(starts) if starts else None

    def due(self) -> float | None:
        """When (``time.monotonic``) the oldest held message is to be sent; None if none."""
        idle = [j.last_line_at for j in self.joiners.values() if j.pending_start is not None]
        return min(idle) + self.options.timeout if idle else None

    def feed(
        self,
        line: str,
        off: int,
        end: int,
        out: list[tuple[Event, Any]],
        cut: bool = False,
        stream: str = "",
        meta: Any = None,
    ) -> None:
        j = self.joiners.get(stream)
        if j is None:
            j = self.joiners[stream] = Multiline(self.options)
            self._held[stream] = {}
        held = self._held[stream]
        if meta is not None:
            held[off] = meta
        events: list[Event] = []
        j.feed(line, off, end, events, cut)
        j.last_line_at = time.monotonic()
        for ev in events:
            out.append((ev, self._take(held, ev)))

    @staticmethod
    def _take(held: dict[int, Any], ev: Event) -> Any:
        """The meta of the event's first line; the meta of its lines is forgotten."""
        if not held:
            return None
        meta = held.get(ev[1])
        end = ev[2]
        for off in [o for o in held if o < end]:
            del held[off]
        return meta

    def flush(self, older_than: float | None = None) -> list[tuple[Event, Any]]:
        """Held messages (of streams idle since ``older_than``, or all), in file order."""
        out: list[tuple[Event, Any]] = []
        for stream, j in self.joiners.items():
            if older_than is not None and j.last_line_at > older_than:
                continue
            ev = j.flush()
            if ev is not None:
                out.append((ev, self._take(self._held[stream], ev)))
        out.sort(key=lambda x: x[0][1])
        return out
