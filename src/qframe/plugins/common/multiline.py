"""Multiline aggregation with Filebeat's semantics, shared by the log collectors.

A line *continues* when ``bool(pattern.search(line)) != negate``.

- ``match: after``: a continuing line joins the message before it; any other line
  starts a new message (e.g. ``pattern: '^\\s'`` for stack traces, or
  ``pattern: '^\\[', negate: true`` for "every line not starting with [").
- ``match: before``: a continuing line joins the message after it; the first line that
  does not continue ends the message (e.g. ``pattern: '\\\\$'`` for backslash continuation).

At most ``max-lines`` lines and ``max-bytes`` bytes are kept per message (the rest is
dropped and the message tagged ``_truncated``); a pending message is sent after
``timeout`` without new lines.  ``multiline: java`` (``python``, ``go``) names a preset.

:class:`Multiline` joins the lines of one source; :class:`Groups` keeps one per key
(a connection, a container's stream, a sender), so two sources' lines never meet.
"""

from __future__ import annotations

import re
import time
from collections.abc import Hashable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ...options import Bytes, Duration, Field, to_kebab

__all__ = ["PRESETS", "Event", "Groups", "Multiline", "MultilineOptions"]

#: named settings (``multiline: java``); every line that continues joins the one before
PRESETS: dict[str, dict[str, Any]] = {
    # "\tat com.x.Y.f(Y.java:3)", "\t... 12 more", "Caused by: …", "\tSuppressed: …"
    "java": {
        "pattern": r"^(?:\s+at\s|\s*\.\.\.\s*\d+\s+(?:more|common frames omitted)"
        r"|\s*Caused by:|\s+Suppressed:)",
    },
    # "Traceback (most recent call last):", indented frames, then "ValueError: bad"; a
    # chained one goes on with "During handling of the above exception, …" (or "The above
    # exception was the direct cause …"), a blank line and the next "Traceback …"
    "python": {
        "pattern": r"^(?:\s|$|[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)(?::|$)"
        r"|During handling of the above exception|The above exception was the direct cause)",
        "continue-after": r"^(?:During handling of the above exception"
        r"|The above exception was the direct cause)",
    },
    # "panic: …", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:5 +0x1d"
    "go": {
        "pattern": r"^(?:\s|$|goroutine \d+ \[|\[signal |created by |exit status \d+"
        r"|[\w/.-]*\.[\w*().-]+\(.*\)$)",
    },
}


class MultilineOptions(BaseModel):
    """Joins consecutive lines into one message, as Filebeat's ``multiline`` does."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_kebab, populate_by_name=True, validate_default=True
    )

    pattern: str = Field(description="regular expression tested against each line (re.search)")
    negate: bool = Field(False, description="invert the pattern: lines that do NOT match")
    continue_after: str = Field(
        "",
        description="regular expression: the first non-blank line after a line it matches "
        "continues too, whatever pattern says (the python preset: a chained traceback's next "
        "'Traceback' line)",
    )
    match: Literal["after", "before"] = Field(
        "after",
        description="after: (non-)matching lines join the line before them; before: the next",
    )
    max_lines: int = Field(500, ge=1, description="lines kept per message; extra are dropped")
    max_bytes: Bytes = Field(
        "1MiB", description="bytes kept per message; the rest is dropped (tagged _truncated)"
    )
    timeout: Duration = Field(5.0, description="a pending message is sent after this idle time")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v not in PRESETS:
                raise ValueError(f"unknown preset {v!r} (known: {', '.join(sorted(PRESETS))})")
            return dict(PRESETS[v])
        if isinstance(v, dict) and isinstance(v.get("preset"), str):
            name = v["preset"]
            if name not in PRESETS:
                raise ValueError(f"unknown preset {name!r} (known: {', '.join(sorted(PRESETS))})")
            return {**PRESETS[name], **{k: x for k, x in v.items() if k != "preset"}}
        return v

    @field_validator("pattern", "continue_after")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return v

    @field_validator("max_bytes")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("max-bytes must be at least 1 byte")
        return v


MULTILINE_HELP = (
    "join lines into one message: a preset (java, python, go) or "
    "{pattern, negate, match: after|before, continue-after, max-lines, max-bytes, timeout}"
)

# (text, position of the first line, position after the last line, truncated, line count);
# positions are what the caller gave (file offsets, timestamps, message objects)
Event = tuple[str, Any, Any, bool, int]


class Multiline:
    __slots__ = (
        "_after",
        "_bytes",
        "_carry",
        "_dropped",
        "_end",
        "_lines",
        "_max_bytes",
        "_max_lines",
        "_negate",
        "_next",
        "_search",
        "_start",
        "last_line_at",
    )

    def __init__(self, options: MultilineOptions) -> None:
        self._search = re.compile(options.pattern).search
        self._negate = options.negate
        # continue-after: a line it matches makes the next non-blank line continue too
        self._next = re.compile(options.continue_after).search if options.continue_after else None
        self._carry = False
        self._after = options.match == "after"
        self._max_lines = options.max_lines
        self._max_bytes = options.max_bytes
        self._lines: list[str] = []
        self._bytes = 0
        self._start: Any = 0
        self._end: Any = 0
        self._dropped = False
        self.last_line_at = 0.0

    @property
    def pending_start(self) -> Any:
        """Position of the first line held back (not yet part of a sent message)."""
        return self._start if self._lines else None

    def _add(self, line: str, off: Any, end: Any, cut: bool) -> None:
        if not self._lines:
            self._start = off
        self._end = end
        if self._dropped and self._lines:
            return  # over a bound already: the rest of the message is dropped
        n = (len(line) if line.isascii() else len(line.encode("utf-8", "replace"))) + 1
        room = self._max_bytes - self._bytes
        if len(self._lines) >= self._max_lines or room <= 0:
            self._dropped = True
            return
        if n - 1 > room:
            line = line.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
            cut = True
        self._lines.append(line)
        self._bytes += n
        if cut:
            self._dropped = True

    def flush(self) -> Event | None:
        if not self._lines:
            return None
        text = "\n".join(self._lines).rstrip("\n")  # trailing blank lines add nothing
        ev = (text, self._start, self._end, self._dropped, len(self._lines))
        self._carry = False
        self._lines = []
        self._bytes = 0
        self._dropped = False
        return ev

    def feed(self, line: str, off: Any, end: Any, out: list[Event], cut: bool = False) -> None:
        """Take one line (at positions ``off``..``end``); append finished messages.

        ``cut``: the line was already shortened (its message is tagged ``_truncated``).
        """
        cont = (self._search(line) is not None) is not self._negate
        if self._next is not None:
            if self._carry:
                cont = True
                self._carry = not line.strip()  # blank lines carry it on
            if self._next(line) is not None:
                self._carry = True
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


class Groups:
    """One :class:`Multiline` per key; idle ones are flushed by :meth:`expired`."""

    __slots__ = ("groups", "options")

    def __init__(self, options: MultilineOptions) -> None:
        self.options = options
        self.groups: dict[Hashable, Multiline] = {}

    def feed(
        self, key: Hashable, line: str, off: Any, end: Any, out: list[Event], cut: bool = False
    ) -> None:
        ml = self.groups.get(key)
        if ml is None:
            ml = self.groups[key] = Multiline(self.options)
        ml.feed(line, off, end, out, cut)
        ml.last_line_at = time.monotonic()

    def pop(self, key: Hashable) -> Event | None:
        """The key's pending message (its source ended)."""
        ml = self.groups.pop(key, None)
        return ml.flush() if ml is not None else None

    def expired(self, now: float | None = None) -> list[tuple[Hashable, Event]]:
        """Pending messages idle for ``timeout`` (their groups are forgotten)."""
        if now is None:
            now = time.monotonic()
        limit = now - self.options.timeout
        out: list[tuple[Hashable, Event]] = []
        for key in [k for k, ml in self.groups.items() if ml.last_line_at <= limit]:
            ev = self.groups.pop(key).flush()
            if ev is not None:
                out.append((key, ev))
        return out

    def flush_all(self) -> list[tuple[Hashable, Event]]:
        out: list[tuple[Hashable, Event]] = []
        for key, ml in self.groups.items():
            ev = ml.flush()
            if ev is not None:
                out.append((key, ev))
        self.groups.clear()
        return out

    def next_due(self) -> float:
        """Seconds until the next pending message is due (the timeout when none is)."""
        if not self.groups:
            return self.options.timeout
        oldest = min(ml.last_line_at for ml in self.groups.values())
        return max(0.0, oldest + self.options.timeout - time.monotonic())


class MessageJoiner:
    """Joins the ``message`` of whole messages (e.g. GELF), per key.

    A joined message is its first message with the joined text, ``fields.lines`` (more
    than one line) and the tag ``_truncated`` (cut at a bound); the others are dropped.
    """

    __slots__ = ("groups", "truncated")

    def __init__(self, options: MultilineOptions) -> None:
        self.groups = Groups(options)
        self.truncated = 0  # joined messages cut at a bound, not yet counted by the caller

    def _done(self, ev: Event) -> Any:
        text, first, _end, dropped, nlines = ev
        first.message = text
        if nlines > 1:
            first.fields["lines"] = nlines
        if dropped:
            first.add_tag("_truncated")
            self.truncated += 1
        return first

    def feed(self, key: Hashable, msgs: list[Any]) -> list[Any]:
        """Messages finished by ``msgs`` (one key's, in order)."""
        events: list[Event] = []
        for m in msgs:
            self.groups.feed(key, m.message, m, None, events)
        return [self._done(ev) for ev in events]

    def due(self, live: Any = None, final: bool = False) -> list[Any]:
        """Messages idle for the timeout, those of keys no longer ``live`` (a set), or all."""
        g = self.groups
        if final:
            return [self._done(ev) for _, ev in g.flush_all()]
        out = [self._done(ev) for _, ev in g.expired()]
        if live is not None:
            for key in [k for k in g.groups if k not in live]:
                ev = g.pop(key)
                if ev is not None:
                    out.append(self._done(ev))
        return out
