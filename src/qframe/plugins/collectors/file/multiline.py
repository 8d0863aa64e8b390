"""Multiline aggregation with Filebeat's semantics.

A line *continues* when ``bool(pattern.search(line)) != negate``.

- ``match: after``: a continuing line joins the message before it; any other line
  starts a new message (e.g. ``pattern: '^\\s'`` for stack traces, or
  ``pattern: '^\\[', negate: true`` for "every line not starting with [").
- ``match: before``: a continuing line joins the message after it; the first line that
  does not continue ends the message (e.g. ``pattern: '\\\\$'`` for backslash continuation).

At most ``max-lines`` lines are kept per message (the rest are dropped and the message
tagged ``_truncated``); a pending message is sent after ``timeout`` without new lines.
"""

from __future__ import annotations

import re

from .options import MultilineOptions

__all__ = ["Event", "Multiline"]

# (text, offset of the first line, offset after the last line, truncated, line count)
Event = tuple[str, int, int, bool, int]


class Multiline:
    __slots__ = (
        "_after",
        "_dropped",
        "_end",
        "_lines",
        "_max_lines",
        "_negate",
        "_search",
        "_start",
        "last_line_at",
    )

    def __init__(self, options: MultilineOptions) -> None:
        self._search = re.compile(options.pattern).search
        self._negate = options.negate
        self._after = options.match == "after"
        self._max_lines = options.max_lines
        self._lines: list[str] = []
        self._start = 0
        self._end = 0
        self._dropped = False
        self.last_line_at = 0.0

    @property
    def pending_start(self) -> int | None:
        """Offset of the first line held back (not yet part of a sent message)."""
        return self._start if self._lines else None

    def _add(self, line: str, off: int, end: int, cut: bool) -> None:
        if not self._lines:
            self._start = off
        if len(self._lines) < self._max_lines:
            self._lines.append(line)
            if cut:
                self._dropped = True
        else:
            self._dropped = True
        self._end = end

    def flush(self) -> Event | None:
        if not self._lines:
            return None
        text = "\n".join(self._lines).rstrip("\n")  # trailing blank lines add nothing
        ev = (text, self._start, self._end, self._dropped, len(self._lines))
        self._lines = []
        self._dropped = False
        return ev

    def feed(self, line: str, off: int, end: int, out: list[Event], cut: bool = False) -> None:
        """Take one line (bytes ``off``..``end`` of the file); append finished messages.

        ``cut``: the line was already shortened (its message is tagged ``_truncated``).
        """
        cont = (self._search(line) is not None) is not self._negate
        if self._after:
            if not cont and self._lines:
                ev = self.flush()
                assert ev is not None
                out.append(ev)
            self._add(line, off, end, cut)
        else:
            self._add(line, off, end, cut)
            if not cont:
                ev = self.flush()
                assert ev is not None
                out.append(ev)
