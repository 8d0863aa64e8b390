"""A literal every match contains: lines without it are rejected before the engine runs.

A grok search that fails tries the expression at every position of the line — the
costliest thing grok does, and the usual one in an else-chain (a syslog line offered to
%{COMBINEDAPACHELOG} first).  Most patterns require some literal text (``] "`` in an
Apache access line), and ``literal in line`` is a C loop over the line: a line without
it cannot match, whatever the engine would have tried.

:func:`required_literal` reads the stdlib's parse tree of the translated expression
and collects the runs of literal characters that every match must contain: those in the
top-level sequence and, recursively, in mandatory parts of it (groups, atomic groups,
repeats of at least one, positive lookarounds, whose text is in the line too).
Alternatives, optional parts, negative lookarounds and case-insensitive parts are
skipped, so what is found is required — never a guess.  The longest run (two characters
at least, else none) is used.
"""

from __future__ import annotations

import re
from typing import Any

try:  # the stdlib parser (3.11+: re._parser; before: sre_parse)
    from re import _constants as C
    from re import _parser as P
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

__all__ = ["required_literal"]

_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT)}
_ATOMIC = getattr(C, "ATOMIC_GROUP", None)
_MIN_LEN = 2


def required_literal(regex: str, flags: int) -> str | None:
    """The longest literal text (2+ characters) every match of ``regex`` contains."""
    if flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        tree = P.parse(regex, flags)
    except Exception:  # not for the stdlib engine: no prefilter
        return None
    if tree.state.flags & re.IGNORECASE:
        return None
    runs: list[str] = []
    _collect(tree, runs)
    best = max(runs, key=len, default="")
    return best if len(best) >= _MIN_LEN else None


def _collect(seq: Any, runs: list[str]) -> None:
    cur: list[str] = []

    def flush() -> None:
        if cur:
            runs.append("".join(cur))
            cur.clear()

    for op, av in seq:
        if op is C.LITERAL:
            cur.append(chr(av))
            continue
        flush()
        if op is C.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if not add_flags & re.IGNORECASE:
                _collect(sub, runs)
        elif op in _REPEATS:
            lo, _hi, sub = av
            if lo >= 1:
                _collect(sub, runs)
        elif op is _ATOMIC:
            _collect(av, runs)
        elif op is C.ASSERT:  # a positive lookaround: its text is in the line too
            _collect(av[1], runs)
        # BRANCH, classes, ANY, anchors, ASSERT_NOT, back-references: nothing required
    flush()
