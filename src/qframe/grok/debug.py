"""Why a pattern does not match a line: the longest prefix of its parts that does."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .engine import Grok, GrokTimeout
from .library import GrokError, PatternLibrary

__all__ = ["Diagnosis", "diagnose", "split_parts"]

_QUANT = re.compile(r"(?:[*+?]|\{\d*(?:,\d*)?\})[?+]?")


def _skip_class(p: str, i: int) -> int:
    j = i + 1
    if p.startswith("^", j):
        j += 1
    if p.startswith("]", j):
        j += 1
    while j < len(p):
        if p[j] == "\\":
            j += 2
            continue
        if p[j] == "]":
            return j + 1
        j += 1
    raise GrokError("unterminated character class")


def _skip_escape(p: str, i: int) -> int:
    if p.startswith(("\\k<", "\\x{"), i):
        end = p.find(">" if p[i + 1] == "k" else "}", i)
        return end + 1 if end > 0 else len(p)
    return i + 2


def split_parts(p: str) -> list[str] | None:
    """The top-level parts of a pattern (each with its quantifier), or ``None`` when the
    pattern is an alternation at the top level (then prefixes make no sense)."""
    parts: list[str] = []
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if p.startswith("%{", i):
            j = p.find("}", i) + 1 or n
        elif c == "\\":
            j = _skip_escape(p, i)
        elif c == "[":
            j = _skip_class(p, i)
        elif c == "(":
            depth = 0
            j = i
            while j < n:
                if p[j] == "\\":
                    j = _skip_escape(p, j)
                    continue
                if p[j] == "[":
                    j = _skip_class(p, j)
                    continue
                if p[j] == "(":
                    depth += 1
                elif p[j] == ")":
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
                j += 1
        elif c == "|":
            return None
        else:
            j = i + 1
        m = _QUANT.match(p, j)
        if m:
            j = m.end()
        parts.append(p[i:j])
        i = j
    return parts


_PLAIN_REF = re.compile(r"%\{(\w+)\}")


def flatten(parts: list[str] | None, library: PatternLibrary, depth: int = 0) -> list[str] | None:
    """Replace each part that is a bare ``%{NAME}`` (no field: nothing to lose) by the
    parts of its definition, recursively, so that a diagnosis can point inside it."""
    if parts is None or depth > 10:
        return parts
    out: list[str] = []
    for part in parts:
        m = _PLAIN_REF.fullmatch(part)
        rx = library.get(m.group(1)) if m else None
        sub = split_parts(rx) if rx is not None else None
        if sub and (len(sub) > 1 or _PLAIN_REF.fullmatch(sub[0])):
            out.extend(flatten(sub, library, depth + 1) or sub)
        else:
            out.append(part)
    return out


def split_alternatives(p: str) -> list[str]:
    """The top-level alternatives of a pattern (one element when there is no ``|``)."""
    alts: list[str] = []
    depth = 0
    start = i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i = _skip_escape(p, i)
            continue
        if c == "[":
            i = _skip_class(p, i)
            continue
        if p.startswith("%{", i):
            i = p.find("}", i) + 1 or len(p)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            alts.append(p[start:i])
            start = i + 1
        i += 1
    alts.append(p[start:])
    return alts


def _alternatives(pattern: str, library: PatternLibrary) -> list[str] | None:
    """The alternatives of ``pattern`` itself or of the one pattern it refers to."""
    alts = split_alternatives(pattern)
    if len(alts) > 1:
        return alts
    m = _PLAIN_REF.fullmatch(pattern)
    rx = library.get(m.group(1)) if m else None
    return _alternatives(rx, library) if rx is not None else None


@dataclass
class Diagnosis:
    """The result of :func:`diagnose`."""

    matched: bool
    captures: dict[str, Any] = field(default_factory=dict)
    parts: int = 0  # how many leading parts match
    total: int = 0
    start: int = 0
    end: int = 0
    next_part: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        if self.matched:
            return {"match": True, "captures": self.captures}
        out: dict[str, Any] = {"match": False, "why": self.reason}
        if self.parts:
            out["matched_parts"] = f"{self.parts} of {self.total}"
            out["partial_captures"] = self.captures
        return out


def diagnose(
    pattern: str,
    library: PatternLibrary,
    text: str,
    timeout: float = 0.5,
    grok: Grok | None = None,
    depth: int = 0,
) -> Diagnosis:
    """Match ``text``; when it does not match, find the longest matching prefix."""
    g = grok if grok is not None else Grok(pattern, library, timeout=timeout)
    try:
        m = g.search(text)
    except GrokTimeout:
        return Diagnosis(False, reason=f"gave up after {timeout:g}s (the line is hostile to it)")
    if m is not None:
        caps: dict[str, Any] = {}
        g.extract(m.groups(), caps)
        return Diagnosis(True, caps, start=m.start(), end=m.end())
    alts = _alternatives(pattern, library)
    if alts is not None and depth < 3:
        best_d: Diagnosis | None = None
        for i, alt in enumerate(alts, 1):
            d = diagnose(alt, library, text, timeout, depth=depth + 1)
            d.reason = f"alternative {i} of {len(alts)} ({alt[:60]!r}): {d.reason}"
            if best_d is None or d.parts > best_d.parts:
                best_d = d
        assert best_d is not None
        return best_d
    parts = flatten(split_parts(pattern), library)
    if not parts or len(parts) == 1:
        return Diagnosis(False, reason="no match", total=len(parts or []))

    def prefix(k: int) -> tuple[Grok, Any] | None:
        try:
            pg = Grok("".join(parts[:k]), library, timeout=timeout)
            pm = pg.search(text)
        except (GrokError, GrokTimeout):
            return None
        return (pg, pm) if pm is not None else None

    lo, hi = 0, len(parts) - 1  # invariant: prefix(lo) matches (or lo == 0), prefix(hi+1) not
    best: tuple[Grok, Any] | None = None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        r = prefix(mid)
        if r is not None:
            lo, best = mid, r
        else:
            hi = mid - 1
    if best is None:
        return Diagnosis(
            False,
            total=len(parts),
            next_part=parts[0],
            reason=f"the first part {parts[0]!r} is not found anywhere in the line",
        )
    pg, pm = best
    caps = {}
    pg.extract(pm.groups(), caps)
    end = pm.end()
    rest = text[end : end + QUOTE]
    return Diagnosis(
        False,
        caps,
        parts=lo,
        total=len(parts),
        start=pm.start(),
        end=end,
        next_part=parts[lo],
        reason=(
            f"the first {lo} of {len(parts)} parts match {_middle(text[pm.start() : end])!r} "
            f"(characters {pm.start()}-{end}); the next part {parts[lo]!r} does not match "
            f"at {_head(rest, text[end:])!r}"
        ),
    )


#: the longest piece of the line a diagnosis quotes
QUOTE = 40


def _middle(s: str) -> str:
    """``s``, or its start and end around an ellipsis when it is longer than :data:`QUOTE`."""
    if len(s) <= QUOTE:
        return s
    head = QUOTE // 3
    return s[:head] + "…" + s[-(QUOTE - head - 1) :]


def _head(shown: str, whole: str) -> str:
    """``shown`` (the start of ``whole``) with an ellipsis when ``whole`` goes on."""
    return shown + "…" if len(whole) > len(shown) else shown
