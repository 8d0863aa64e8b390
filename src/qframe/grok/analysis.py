"""A static estimate of how badly a regular expression can backtrack.

The grok compiler uses it to choose the engine (see :mod:`qframe.grok`).  It walks the
parse tree of the expanded expression (``re._parser``, the stdlib's own parser) and
computes, for every node, the characters it can start with, the characters it could
*give back* to what follows when the matcher backtracks, and whether its own way of
matching is ambiguous.  From that:

- **exponential** risk: a repetition (``*``, ``+``, ``{n,}``, or a bound above 16) whose
  body can match the same text in more than one way — the body is ambiguous (overlapping
  alternatives, or an inner junction as below), or one iteration can end where the next
  could begin (``(a+)+``, ``(\\w+\\s?)+``).  Possessive quantifiers and atomic groups
  cannot give anything back, so they never count.
- **junctions**: a variable-length part with an unbounded (or above 16) repetition whose
  give-back characters overlap what may follow it (``\\S+"``, ``.*?:``).  Each junction
  lets the matcher try O(n) end positions for that part; junctions in sequence multiply.
  Alternatives count their worst branch.
- **degree** ``d``: an upper bound of the exponent of the worst-case work of one *search*
  over a line of n characters — 1 for the start positions, plus the number of junctions on
  the worst path (at least 1 when any unbounded repetition exists).

Back-references are treated as exponential (they defeat the reasoning).  The estimate is
conservative: when in doubt it reports more backtracking, never less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:  # the stdlib parser (3.11+: re._parser; before: sre_parse)
    from re import _constants as C
    from re import _parser as P
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

__all__ = ["Estimate", "estimate"]

#: a bound above this counts as "unbounded" for backtracking purposes
BIG_BOUND = 16

# The alphabet over which character sets are approximated: ASCII plus a few non-ASCII
# representatives (letters, a space, a line separator, CJK, an emoji).  Bit OTHER stands
# for "any other non-ASCII character".
_ALPHA = [chr(i) for i in range(128)] + ["\x85", "\xa0", "é", "ß", "\u2028", "\u4e00", "\U0001f600"]
_OTHER = len(_ALPHA)
ALL = (1 << (_OTHER + 1)) - 1


def _mask(pred: Any, other: bool) -> int:
    m = 0
    for i, ch in enumerate(_ALPHA):
        if pred(ch):
            m |= 1 << i
    if other:
        m |= 1 << _OTHER
    return m


@lru_cache(maxsize=4096)
def _bit(code: int, ignorecase: bool) -> int:
    ch = chr(code)
    chars = {ch, ch.lower(), ch.upper()} if ignorecase else {ch}
    m = 0
    for c in chars:
        try:
            m |= 1 << _ALPHA.index(c)
        except ValueError:
            m |= 1 << _OTHER
    return m


_WORD_RE = re.compile(r"\w")
_CATS: dict[Any, tuple[Any, bool]] = {
    C.CATEGORY_DIGIT: (str.isdigit, True),
    C.CATEGORY_NOT_DIGIT: (lambda c: not c.isdigit(), True),
    C.CATEGORY_SPACE: (str.isspace, True),
    C.CATEGORY_NOT_SPACE: (lambda c: not c.isspace(), True),
    C.CATEGORY_WORD: (lambda c: bool(_WORD_RE.match(c)), True),
    C.CATEGORY_NOT_WORD: (lambda c: not _WORD_RE.match(c), True),
}


@lru_cache(maxsize=4096)
def _range_mask(lo: int, hi: int, ignorecase: bool) -> int:
    m = _mask(lambda c: lo <= ord(c) <= hi, hi > 127)
    if ignorecase:
        m |= _mask(lambda c: lo <= ord(c.swapcase()[:1] or c) <= hi, False)
    return m


@lru_cache(maxsize=64)
def _category_mask(cat: Any) -> int:
    pred, other = _CATS.get(cat, (lambda c: True, True))
    return _mask(pred, other)


def _set_mask(items: list[tuple[Any, Any]], ignorecase: bool) -> int:
    negate = False
    m = 0
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            m |= _bit(av, ignorecase)
        elif op is C.RANGE or op is getattr(C, "RANGE_UNI_IGNORE", None):
            m |= _range_mask(av[0], av[1], ignorecase)
        elif op is C.CATEGORY:
            m |= _category_mask(av)
        else:  # unknown member: assume it may be anything
            m = ALL
    if negate:
        m = (ALL & ~m) | (1 << _OTHER)
    return m


def _chars(mask: int, limit: int = 12) -> str:
    """A few of the characters in ``mask`` (for explanations)."""
    out = [repr(ch)[1:-1] for i, ch in enumerate(_ALPHA) if mask >> i & 1 and ch.isprintable()]
    return "".join(out[:limit]) + ("…" if len(out) > limit else "")


#: what follows a node: frames (items, index), innermost first; None when unknown
Cont = tuple[tuple[list[tuple[Any, Any]], int], ...] | None
_STOP: list[tuple[Any, Any]] = []  # a frame that means "unbounded: give up"


@dataclass
class _Info:
    first: int = 0
    nullable: bool = True
    chars: int = 0
    var: bool = False  # its end position can vary (backtrackable)
    big: bool = False  # ... by an input-dependent amount
    give: int = 0  # characters it may give back to what follows
    deg: int = 0  # junctions on its worst path
    exp: bool = False  # exponential risk inside
    ambig: bool = False  # can match the same text in more than one way
    unbounded: bool = False  # contains an unbounded repetition


@dataclass(frozen=True)
class Estimate:
    """The result: ``exponential`` risk, or the polynomial ``degree`` of one search."""

    exponential: bool
    degree: int
    junctions: int
    #: per junction, some of the characters where a repetition and what follows it overlap
    overlaps: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.exponential:
            return "exponential backtracking possible (nested ambiguous repetition)"
        return f"worst case ~n^{self.degree} per line ({self.junctions} ambiguous junction(s))"


@lru_cache(maxsize=256)
def estimate(pattern: str, flags: int = 0) -> Estimate:
    """Estimate the backtracking of ``pattern`` (stdlib syntax) under ``flags``."""
    tree = P.parse(pattern, flags)
    ctx = _Ctx(bool(flags & re.IGNORECASE), bool(flags & re.DOTALL))
    info = ctx.seq(list(tree), 0, ())
    deg = 1 + (1 if info.unbounded else 0) + info.deg
    return Estimate(info.exp, deg, info.deg, tuple(ctx.junctions))


class _Ctx:
    def __init__(self, ignorecase: bool, dotall: bool) -> None:
        self.ic = ignorecase
        self.any = ALL if dotall else ALL & ~(1 << 10)
        self.junctions: list[str] = []
        self._shapes: dict[tuple[Any, int], tuple[int, bool, int]] = {}

    # -- shapes (first/nullable/chars), independent of what follows -------------------
    def shape(self, op: Any, av: Any) -> tuple[int, bool, int]:
        key = (op, id(av))
        got = self._shapes.get(key)
        if got is None:
            got = self._shapes[key] = self._shape(op, av)
        return got

    def _shape(self, op: Any, av: Any) -> tuple[int, bool, int]:
        if op is C.LITERAL:
            b = _bit(av, self.ic)
            return b, False, b
        if op is C.NOT_LITERAL:
            b = ALL & ~_bit(av, False) | (1 << _OTHER)
            return b, False, b
        if op is C.ANY:
            return self.any, False, self.any
        if op is C.IN:
            b = _set_mask(av, self.ic)
            return b, False, b
        if op is C.AT or op is C.ASSERT or op is C.ASSERT_NOT:
            return 0, True, 0
        if op is C.SUBPATTERN:
            return self.seq_shape(list(av[-1]))
        if op is C.ATOMIC_GROUP:
            return self.seq_shape(list(av))
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, _hi, item = av
            f, n, c = self.seq_shape(list(item))
            return f, n or lo == 0, c
        if op is C.BRANCH:
            f = c = 0
            n = False
            for alt in av[1]:
                af, an, ac = self.seq_shape(list(alt))
                f |= af
                c |= ac
                n = n or an
            return f, n, c
        return ALL, True, ALL  # group references and anything unknown

    def seq_shape(self, items: list[tuple[Any, Any]]) -> tuple[int, bool, int]:
        first = chars = 0
        nullable = True
        for op, av in items:
            f, n, c = self.shape(op, av)
            chars |= c
            if nullable:
                first |= f
                nullable = n
        return first, nullable, chars

    # -- full analysis, given the characters that may follow ---------------------------
    def seq(self, items: list[tuple[Any, Any]], follow: int, cont: Cont) -> _Info:
        n = len(items)
        shapes = [self.shape(op, av) for op, av in items]
        fols = [0] * n
        f = follow
        for i in range(n - 1, -1, -1):
            fols[i] = f
            sf, sn, _ = shapes[i]
            f = sf | (f if sn else 0)
        infos = [
            self.node(op, av, fols[i], None if cont is None else ((items, i + 1), *cont))
            for i, (op, av) in enumerate(items)
        ]
        out = _Info()
        out.first, out.nullable, out.chars = self.seq_shape(items)
        for inf in infos:
            out.var = out.var or inf.var
            out.big = out.big or inf.big
            out.deg += inf.deg
            out.exp = out.exp or inf.exp
            out.ambig = out.ambig or inf.ambig
            out.unbounded = out.unbounded or inf.unbounded
        give = 0
        for inf in reversed(infos):
            give |= inf.give
            if not inf.nullable and not inf.var:
                break
        if out.deg:  # an inner junction: the end may move by anything variable inside
            for inf in infos:
                give |= inf.give
        out.give = give
        return out

    def node(self, op: Any, av: Any, follow: int, cont: Cont) -> _Info:
        first, nullable, chars = self.shape(op, av)
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN, C.AT):
            return _Info(first, nullable, chars)
        if op is C.SUBPATTERN:
            return self.seq(list(av[-1]), follow, cont)
        if op is C.ATOMIC_GROUP:
            inner = self.seq(list(av), 0, ())
            return _Info(first, nullable, chars, deg=inner.deg, exp=inner.exp,
                         unbounded=inner.unbounded)  # fmt: skip
        if op is C.ASSERT or op is C.ASSERT_NOT:
            inner = self.seq(list(av[1]), 0, ())
            return _Info(0, True, 0, deg=inner.deg, exp=inner.exp, unbounded=inner.unbounded)
        if op is C.BRANCH:
            return self.branch(av[1], follow, cont, first, nullable, chars)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            return self.repeat(op, av, follow, cont, first, nullable, chars)
        # GROUPREF, GROUPREF_EXISTS and anything unknown: give up (exponential)
        return _Info(ALL, True, ALL, True, True, ALL, 0, True, True, True)

    def branch(
        self, alts: list[Any], follow: int, cont: Cont, first: int, nullable: bool, chars: int
    ) -> _Info:
        out = _Info(first, nullable, chars)
        seen = 0
        widths = set()
        for alt in alts:
            inf = self.seq(list(alt), follow, cont)
            if inf.first & seen or (inf.nullable and len(alts) > 1):
                out.ambig = True  # two alternatives can start alike
            seen |= inf.first
            out.deg = max(out.deg, inf.deg)
            out.exp = out.exp or inf.exp
            out.ambig = out.ambig or inf.ambig
            out.var = out.var or inf.var
            out.big = out.big or inf.big
            out.give |= inf.give
            out.unbounded = out.unbounded or inf.unbounded
            widths.add(alt.getwidth())
        if out.ambig and (len(widths) > 1 or any(lo != hi for lo, hi in widths)):
            out.var = True  # alternatives of different lengths that can start alike
            out.give |= first
        return out

    def repeat(
        self,
        op: Any,
        av: Any,
        follow: int,
        cont: Cont,
        first: int,
        nullable: bool,
        chars: int,
    ) -> _Info:
        lo, hi, item = av
        body = list(item)
        many = hi > 1
        big = hi == C.MAXREPEAT or hi - lo > BIG_BOUND
        # after one of many iterations comes another or the rest: no single continuation
        inner = self.seq(body, (follow | first) if many else follow, None if many else cont)
        out = _Info(first, nullable, chars)
        out.exp = inner.exp
        out.unbounded = inner.unbounded or hi == C.MAXREPEAT
        out.deg = inner.deg
        if many and (inner.deg or inner.ambig):
            # each iteration can split the text in several ways: the ways multiply
            if hi == C.MAXREPEAT or hi > 4:
                out.exp = True
        if op is C.POSSESSIVE_REPEAT:
            if many and inner.deg:
                out.deg += 1
            return out  # gives nothing back
        if many and big and inner.var and inner.give & first:
            out.exp = True  # one iteration may end where the next could begin
        out.var = lo != hi or inner.var
        out.big = (big and lo != hi) or inner.big
        # backtracking gives back whole iterations (which start like the body) or
        # the variable end of the last one
        out.give = (first if lo != hi else 0) | inner.give
        out.ambig = inner.ambig
        if lo != hi and big and out.give & follow and not self.guarded(cont, chars):
            self.junctions.append(_chars(out.give & follow))
            out.deg += 1
            out.ambig = True
        return out

    # -- guards: is a junction resolved within a bounded distance? -------------------------
    def guarded(self, cont: Cont, mask: int) -> bool:
        """True when every way to continue meets, at a bounded distance, a mandatory
        character outside ``mask`` (so a part that gave back characters of ``mask`` can
        only be followed from O(1) of its end positions), or the pattern ends."""
        if cont is None:
            return False
        self._budget = 200
        return self._walk(cont, mask) is not False

    def _walk(self, cont: tuple[tuple[list[tuple[Any, Any]], int], ...], mask: int) -> bool:
        for fi, (items, idx) in enumerate(cont):
            if items is _STOP:
                return False
            for j in range(idx, len(items)):
                self._budget -= 1
                if self._budget < 0:
                    return False
                op, av = items[j]
                rest = ((items, j + 1), *cont[fi + 1 :])
                if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
                    if not self.shape(op, av)[0] & mask:
                        return True
                elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
                    continue
                elif op is C.SUBPATTERN:
                    return self._walk(((list(av[-1]), 0), *rest), mask)
                elif op is C.ATOMIC_GROUP:
                    return self._walk(((list(av), 0), *rest), mask)
                elif op is C.BRANCH:
                    return all(self._walk(((list(alt), 0), *rest), mask) for alt in av[1])
                elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
                    lo, hi, body = av
                    big = hi == C.MAXREPEAT or hi - lo > BIG_BOUND
                    if hi == 0 or self._anything(op, av):
                        if self._always(rest):
                            return True  # ".*" to the end: the search cannot fail here
                        if hi == 0:
                            continue
                    if lo == 0 and not self._walk(rest, mask):
                        return False
                    after = ((_STOP, 0),) if big or hi > 1 else rest
                    return self._walk(((list(body), 0), *after), mask)
                else:
                    return False
        return True  # the pattern ends: the search has succeeded

    def _anything(self, op: Any, av: Any) -> bool:
        """A greedy/lazy ``.*`` (with DOTALL): matches whatever is left."""
        if op is C.SUBPATTERN:
            items = list(av[-1])
            return len(items) == 1 and self._anything(*items[0])
        if op not in (C.MAX_REPEAT, C.MIN_REPEAT) or av[0] != 0:
            return False
        body = list(av[2])
        return len(body) == 1 and body[0][0] is C.ANY and self.any == ALL

    def _always(self, cont: tuple[tuple[list[tuple[Any, Any]], int], ...]) -> bool:
        """Nothing but ``.*`` parts remain: what follows cannot fail."""
        for items, idx in cont:
            if items is _STOP:
                return False
            for op, av in items[idx:]:
                if op is C.SUBPATTERN:
                    if not self._always(((list(av[-1]), 0),)):
                        return False
                elif not self._anything(op, av):
                    return False
        return True
