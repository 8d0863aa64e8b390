"""A compiled grok pattern: the engine choice, the search, the capture plan.

See :mod:`qframe.grok` for the rule that picks ``re`` or ``regex`` per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import regex as regex_mod

from .analysis import Estimate, estimate
from .compiler import Capture, compile_error, translate
from .library import GrokError, PatternLibrary
from .prefilter import required_literal
from .rewrite import atomic_possessives

__all__ = ["FLAGS", "RE_STEPS_PER_S", "Grok", "GrokTimeout"]

FLAGS = re.DOTALL | re.MULTILINE
#: units of n^d per second the stdlib engine is assumed to manage (see the package doc:
#: the slowest library cases found by fuzzing run at ~2e8, plain ``.*x.*y`` at ~1e10)
RE_STEPS_PER_S = 3e7
#: lines up to this length always take the fast engine when the estimate allows it at all
_NO_LIMIT = 1 << 62


class GrokTimeout(Exception):
    """A search by the ``regex`` engine ran out of its time budget."""


def _to_int(v: str) -> Any:
    try:
        return int(v)
    except ValueError:
        try:
            return int(float(v))
        except (ValueError, OverflowError):
            return v


def _to_float(v: str) -> Any:
    try:
        return float(v)
    except ValueError:
        return v


def _put(f: dict[str, Any], path: tuple[str, ...], v: Any) -> None:
    d = f
    for k in path[:-1]:
        nxt = d.get(k)
        if type(nxt) is not dict:
            nxt = d[k] = {}
        d = nxt
    d[path[-1]] = v


_CONV = {None: "", "int": "_to_int", "float": "_to_float"}


def make_extractor(
    captures: list[Capture], index: dict[str, int], keep_empty: bool
) -> Callable[[tuple[Any, ...], dict[str, Any]], None]:
    """Generate ``extract(groups, fields)``: straight-line code, one block per field.

    ``groups`` is ``match.groups()``.  Empty captures are left out (unless
    ``keep_empty``); when a field name repeats, the first non-empty capture wins.
    """
    by_field: dict[str, list[Capture]] = {}
    for c in captures:
        by_field.setdefault(c.name, []).append(c)
    lines = ["def extract(g, f):"]
    for caps in by_field.values():
        path = caps[0].path
        store = f"f[{path[0]!r}] = " if len(path) == 1 else f"_put(f, {path!r}, "
        close = "" if len(path) == 1 else ")"
        idx = [index[c.group] - 1 for c in caps]
        types = {c.type for c in caps}
        if len(types) == 1:
            conv = _CONV[caps[0].type]
            lines.append(f"    v = {' or '.join(f'g[{i}]' for i in idx)}")
            lines.append(f"    if v: {store}{conv}(v){close}")
            if keep_empty:
                lines.append(f"    else: {store}''{close}")
        else:
            ind = "    "
            for c, i in zip(caps, idx, strict=True):
                lines.append(f"{ind}v = g[{i}]")
                lines.append(f"{ind}if v: {store}{_CONV[c.type]}(v){close}")
                lines.append(f"{ind}else:")
                ind += "    "
            lines.append(f"{ind}{store}''{close}" if keep_empty else f"{ind}pass")
    if len(lines) == 1:
        lines.append("    pass")
    ns: dict[str, Any] = {"_to_int": _to_int, "_to_float": _to_float, "_put": _put}
    exec("\n".join(lines), ns)  # generated from field names via repr(): no injection
    fn: Callable[[tuple[Any, ...], dict[str, Any]], None] = ns["extract"]
    return fn


class Grok:
    """One grok pattern, compiled.

    ``search(text)`` returns a match object (``re`` or ``regex``) or ``None`` and raises
    :class:`GrokTimeout` when the slow engine ran out of time; ``extract(m.groups(), d)``
    writes the captures into ``d``; ``match(text)`` does both and returns a new dict.
    """

    def __init__(
        self,
        pattern: str,
        library: PatternLibrary | None = None,
        *,
        timeout: float = 0.5,
        keep_empty: bool = False,
        named_captures_only: bool = True,
    ) -> None:
        self.pattern = pattern
        self.library = library if library is not None else PatternLibrary()
        self.timeout = timeout
        tr = translate(pattern, self.library, named_captures_only=named_captures_only)
        # possessive quantifiers as atomic groups: the same meaning, and correct on
        # CPython < 3.11.5 too (gh-106052), where possessive repeats are not
        self.regex = atomic_possessives(tr.regex)
        self.captures = tr.captures
        self._slow: Any = None
        self.fast: re.Pattern[str] | None
        try:
            self.fast = re.compile(self.regex, FLAGS)
        except (re.error, OverflowError, RecursionError) as exc:
            self.fast = None
            self.fast_error = compile_error(self.regex, exc)
            self._slow = self._compile_slow()  # raises GrokError when neither compiles
        if self.fast is not None:
            try:
                self.estimate = estimate(self.regex, FLAGS)
            except Exception:  # the estimate must never block a pattern: assume the worst
                self.estimate = Estimate(True, 0, 0)
        else:
            self.estimate = Estimate(True, 0, 0)
        self.max_fast_len = self._fast_limit()
        if self._slow is None and self.max_fast_len < _NO_LIMIT:
            self._slow = self._compile_slow()  # at configuration time, not on a long line
        pattern_index = self.fast.groupindex if self.fast is not None else self._slow.groupindex
        self.extract = make_extractor(self.captures, dict(pattern_index), keep_empty)
        #: a literal every match contains (None: none found): a line without it is no match
        self.required = required_literal(self.regex, FLAGS) if self.fast is not None else None
        self.field_names = list(dict.fromkeys(c.name for c in self.captures))

    def _fast_limit(self) -> int:
        """Longest line (characters) that the ``re`` engine may take: see the package doc."""
        est = self.estimate
        if self.fast is None or est.exponential:
            return -1
        budget = RE_STEPS_PER_S * self.timeout
        if est.degree <= 1:
            return _NO_LIMIT
        return int(budget ** (1.0 / est.degree))

    @property
    def engine(self) -> str:
        if self.max_fast_len < 0:
            return "regex"
        if self.max_fast_len >= _NO_LIMIT:
            return "re"
        return f"re up to {self.max_fast_len} chars, then regex"

    def _compile_slow(self) -> Any:
        try:
            return regex_mod.compile(self.regex, FLAGS | regex_mod.VERSION0)
        except Exception as exc:
            raise GrokError(
                f"pattern {self.pattern!r} does not compile: {compile_error(self.regex, exc)}"
            ) from exc

    @property
    def slow(self) -> Any:
        if self._slow is None:
            self._slow = self._compile_slow()
        return self._slow

    def search(self, text: str, timeout: float | None = None) -> Any:
        if self.required is not None and self.required not in text:
            return None
        if len(text) <= self.max_fast_len:
            return self.fast.search(text)  # type: ignore[union-attr]
        return self.search_slow(text, timeout)

    def search_slow(self, text: str, timeout: float | None = None) -> Any:
        budget = self.timeout if timeout is None else timeout
        try:
            return self.slow.search(text, timeout=budget)
        except TimeoutError as exc:
            raise GrokTimeout(f"grok search gave up after {budget:g}s") from exc

    def match(self, text: str, timeout: float | None = None) -> dict[str, Any] | None:
        """The captures of the first match (a new dict), or ``None``."""
        m = self.search(text, timeout)
        if m is None:
            return None
        out: dict[str, Any] = {}
        self.extract(m.groups(), out)
        return out

    def __repr__(self) -> str:
        return f"Grok({self.pattern!r}, engine={self.engine!r})"
