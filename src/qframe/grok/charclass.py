"""Oniguruma bracket expressions → Python: POSIX classes, nested classes, ``&&``.

Oniguruma (Ruby syntax) reads inside ``[…]``:

- ``[:alpha:]``, ``[:^alpha:]`` — POSIX bracket classes, *Unicode* (``[[:alpha:]]``
  matches ``é``), negatable;
- ``[a-c[x-z]]`` — a nested class, a union;
- ``[a-z&&[^aeiou]]`` — an intersection (``[^a-z&&b]`` negates the whole intersection);
- ``\\h`` / ``\\H`` — hex digits; ``\\e`` escape; ``\\b`` backspace; an escaped letter
  without a meaning (``\\q``) stands for itself.

Python's ``re`` has none of these, so a class is parsed into sets of code-point ranges
(plus the escapes Python reads the same way inside a class: ``\\w \\d \\s`` and their
negations, ``\\p{…}`` for the ``regex`` engine) and rendered back as one Python class
when it can be, else as a one-character alternation with lookaheads
(``(?=A)B`` for ``A&&B``, ``(?!A)[\\s\\S]`` for a negation).  A class without any of these
constructs is passed through nearly unchanged, so the library's classes cost nothing.

The POSIX classes follow Oniguruma's Unicode definitions by general category (computed
once, on first use, from :mod:`unicodedata`): alpha = letters, digit = decimal digits,
upper/lower = cased letters, space = separators and ``\\t-\\r`` ``\\x85``, punct =
punctuation and ``$+<=>^`|~``, cntrl = control/format/unassigned/private/surrogate,
graph/print, xdigit and ascii as in ASCII, word = ``\\w``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache

__all__ = ["ClassError", "parse_class"]

Ranges = list[tuple[int, int]]
_MAX = sys.maxunicode
_PY_CLASS_ESCAPES = frozenset("wWdDsS")
_SIMPLE_ESC = {"n": 10, "t": 9, "r": 13, "f": 12, "v": 11, "a": 7, "e": 27, "b": 8}
# an escape that does not read the same in a Python class
_UNSAFE = re.compile(
    r"\\(?![^A-Za-z0-9]|[wWdDsSntrfvab]|x[0-9A-Fa-f]{2}(?![0-9A-Fa-f])|u[0-9A-Fa-f]{4})"
)
_NUMERIC = re.compile(
    r"x\{([0-9A-Fa-f]{1,8})\}|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|o\{([0-7]+)\}|([0-7]{1,3})"
)
# a class without nesting, POSIX names or escapes that Python reads differently
_SIMPLE = re.compile(r"\[\^?\]?(?:[^\\\[\]]|\\[^A-Za-z0-9]|\\[wWdDsSntrfvab])*\]")
_POSIX_RX = re.compile(r"\[:(\^?)([a-z]+):\]")
_POSIX_NAMES = (
    "alnum alpha ascii blank cntrl digit graph lower print punct space upper word xdigit"
).split()


class ClassError(ValueError):
    """A bracket expression Oniguruma would refuse, or one qframe cannot translate."""


@dataclass
class _Class:
    negated: bool = False
    ranges: Ranges = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)  # Python class escapes: \w \d …
    subs: list[_Class] = field(default_factory=list)  # nested classes (union)
    parts: list[_Class] = field(default_factory=list)  # && operands (this is then empty)

    def plain(self) -> bool:
        return not self.subs and not self.parts


def _normalize(r: Ranges) -> Ranges:
    out: Ranges = []
    for a, b in sorted(r):
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _complement(r: Ranges) -> Ranges:
    out: Ranges = []
    nxt = 0
    for a, b in _normalize(r):
        if a > nxt:
            out.append((nxt, a - 1))
        nxt = b + 1
    if nxt <= _MAX:
        out.append((nxt, _MAX))
    return out


@cache
def _categories() -> tuple[str, ...]:
    return tuple(unicodedata.category(chr(c)) for c in range(_MAX + 1))


def _by_category(pred: object) -> Ranges:
    cats = _categories()
    out: Ranges = []
    start = -1
    for c, cat in enumerate(cats):
        if pred(c, cat):  # type: ignore[operator]
            if start < 0:
                start = c
        elif start >= 0:
            out.append((start, c - 1))
            start = -1
    if start >= 0:
        out.append((start, _MAX))
    return out


_SPACES = frozenset([9, 10, 11, 12, 13, 0x85])
_PUNCT_EXTRA = frozenset(map(ord, "$+<=>^`|~"))


@cache
def _posix(name: str) -> Ranges:
    if name == "ascii":
        return [(0, 0x7F)]
    if name == "xdigit":
        return [(48, 57), (65, 70), (97, 102)]
    preds = {
        "alpha": lambda c, k: k[0] == "L",
        "digit": lambda c, k: k == "Nd",
        "alnum": lambda c, k: k[0] == "L" or k == "Nd",
        "upper": lambda c, k: k == "Lu" or chr(c).isupper(),
        "lower": lambda c, k: k == "Ll" or chr(c).islower(),
        "space": lambda c, k: k in ("Zs", "Zl", "Zp") or c in _SPACES,
        "blank": lambda c, k: k == "Zs" or c == 9,
        "cntrl": lambda c, k: k in ("Cc", "Cf", "Cn", "Co", "Cs"),
        "punct": lambda c, k: k[0] == "P" or c in _PUNCT_EXTRA,
        "graph": lambda c, k: not (k in ("Zs", "Zl", "Zp", "Cc", "Cn", "Cs") or c in _SPACES),
        "print": lambda c, k: (
            k == "Zs" or not (k in ("Zl", "Zp", "Cc", "Cn", "Cs") or c in _SPACES)
        ),
    }
    return _by_category(preds[name])


def _char(c: int) -> str:
    if (
        c < 0x20
        or c in (0x5C, 0x5D, 0x5B, 0x5E, 0x2D, 0x26, 0x7C, 0x7E)
        or 0x7F <= c < 0xA0
        or c > 0xFFFF
    ):
        return f"\\U{c:08x}" if c > 0xFFFF else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    if 0xD800 <= c <= 0xDFFF or (c >= 0x100 and not chr(c).isprintable()):
        return f"\\u{c:04x}"
    return chr(c)


def _render_ranges(r: Ranges) -> str:
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in r)


def _render(cls: _Class) -> str:
    """A Python fragment that matches exactly one character of ``cls``."""
    if cls.parts:  # A && B && …: every operand, then the negation of the whole
        *heads, last = (_render(p) for p in cls.parts)
        body = "".join(f"(?={h})" for h in heads) + last
        return f"(?:(?!{body})[\\s\\S])" if cls.negated else f"(?:{body})"
    ranges, escapes, subs = list(cls.ranges), list(cls.escapes), []
    for s in cls.subs:
        if s.plain() and not s.negated:  # a nested positive class merges into this one
            ranges.extend(s.ranges)
            escapes.extend(s.escapes)
        else:
            subs.append(_render(s))
    inner = _render_ranges(_normalize(ranges)) + "".join(escapes)
    if not subs:
        if not inner:  # Oniguruma's empty operands: match nothing (negated: anything)
            return "[\\s\\S]" if cls.negated else "(?!)"
        return f"[{'^' if cls.negated else ''}{inner}]"
    alts = ([f"[{inner}]"] if inner else []) + subs
    union = f"(?:{'|'.join(alts)})"
    return f"(?:(?!{union})[\\s\\S])" if cls.negated else union


@lru_cache(maxsize=8192)  # a library pattern's classes are met again at every reference
def parse_class(text: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression at ``text[i] == '['``: (Python text, end index)."""
    m = _SIMPLE.match(text, i)
    if m is not None and not any(d in m.group() for d in ("-", "&&", "~~", "||")):
        return m.group(), m.end()  # the common case: Python reads it the same way
    # (a class with a range is parsed: an empty range or one ending at \\w is an error)
    cls, j = _parse(text, i)
    simple = text[i:j]
    if (
        cls.plain()
        and not _POSIX_RX.search(simple)
        and not _UNSAFE.search(simple)
        and not any(d in simple for d in ("--", "&&", "~~", "||"))
    ):
        return simple, j  # Python reads it the same way
    return _render(cls), j


def _parse(text: str, i: int) -> tuple[_Class, int]:
    n = len(text)
    j = i + 1
    cls = _Class()
    if text.startswith("^", j):
        cls.negated = True
        j += 1
    cur = _Class()
    operands: list[_Class] = []
    first = True
    prev: int | None = None  # the last single character, a possible range start
    while j < n:
        c = text[j]
        if c == "]" and not first:
            break
        first = False
        if text.startswith("&&", j):
            operands.append(cur)
            cur, prev = _Class(), None
            j += 2
            continue
        if c == "[":
            m = _POSIX_RX.match(text, j)
            if m is not None:
                if m.group(2) not in _POSIX_NAMES:
                    raise ClassError(f"invalid POSIX bracket type [:{m.group(2)}:]")
                if m.group(2) == "word":
                    cur.escapes.append("\\W" if m.group(1) else "\\w")
                else:
                    r = _posix(m.group(2))
                    cur.ranges.extend(_complement(r) if m.group(1) else r)
                prev = None
                j = m.end()
                continue
            sub, j = _parse(text, j)
            cur.subs.append(sub)
            prev = None
            continue
        if c == "-" and prev is not None and j + 1 < n and text[j + 1] != "]":
            hi, j2, kind = _one(text, j + 1)
            if kind != "char":
                raise ClassError(f"unmatched range specifier in char-class at {text[i:j2]!r}")
            if hi < prev:
                raise ClassError(f"empty range in char class {text[i:j2]!r}")
            cur.ranges[-1] = (prev, hi)
            prev = None
            j = j2
            continue
        v, j2, kind = _one(text, j)
        if kind == "char":
            cur.ranges.append((v, v))
            prev = v
        else:
            if j2 < n and text[j2] == "-" and j2 + 1 < n and text[j2 + 1] != "]":
                raise ClassError(f"unmatched range specifier in char-class at {text[i : j2 + 2]!r}")
            if kind == "hex":
                cur.ranges.extend(_complement(_posix("xdigit")) if v else _posix("xdigit"))
            else:
                cur.escapes.append(text[j:j2])
            prev = None
        j = j2
    else:
        raise ClassError("premature end of char-class")
    if operands:
        operands.append(cur)
        cls.parts = operands
    else:
        cls.ranges, cls.escapes, cls.subs = cur.ranges, cur.escapes, cur.subs
    return cls, j + 1


def _one(text: str, j: int) -> tuple[int, int, str]:
    """One class item at ``j``: (code point, end, "char") or (…, end, "esc"/"hex")."""
    c = text[j]
    if c != "\\":
        return ord(c), j + 1, "char"
    if j + 1 >= len(text):
        raise ClassError("premature end of char-class")
    e = text[j + 1]
    if e in _PY_CLASS_ESCAPES:
        return 0, j + 2, "esc"
    if e in "pP" and text.startswith("{", j + 2):
        end = text.find("}", j + 3)
        if end < 0:
            raise ClassError("bad \\p{…} in char-class")
        return 0, end + 1, "esc"
    if e in "hH":
        return int(e == "H"), j + 2, "hex"
    if e in _SIMPLE_ESC:
        return _SIMPLE_ESC[e], j + 2, "char"
    m = _NUMERIC.match(text, j + 1)
    if m is not None:
        hexa = m.group(1) or m.group(2) or m.group(3)
        cp = int(hexa, 16) if hexa else int(m.group(4) or m.group(5), 8)
        if cp > _MAX:
            raise ClassError(f"bad code point {text[j : m.end()]!r}")
        return cp, m.end(), "char"
    if e in "cCMkgKGRXNOyYAzZB":
        raise ClassError(f"\\{e} inside a character class is not supported")
    return ord(e), j + 2, "char"  # Oniguruma: an escaped letter without meaning is itself
