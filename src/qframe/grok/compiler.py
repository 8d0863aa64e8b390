"""Grok pattern → one compiled regular expression plus a capture plan.

Expansion and translation (one pass over the pattern, recursively into references):

- ``%{NAME}`` expands to the named pattern, wrapped in ``(?:…)``; ``%{NAME:field}``
  captures it; ``%{NAME:field:int}`` / ``:float`` also converts the value.
- Oniguruma / Ruby syntax becomes Python syntax: ``(?<field>…)`` and ``(?'field'…)``
  become capture groups, ``\\k<field>`` a back-reference, ``\\h`` / ``\\H`` hex-digit
  classes, ``\\z`` → ``\\Z``, ``\\Z`` → ``(?=\\n?\\Z)``, ``\\x{HHHH}`` a code point,
  POSIX brackets ``[[:alpha:]]``, and the Ruby flag ``m`` (dot matches newline) becomes
  ``s``.  Inline flags in the middle of a pattern are scoped to the end of their group.
- Every plain ``(…)`` becomes non-capturing, so the compiled expression has exactly one
  group per capture; captures get unique internal names ``g0``, ``g1``… that map back to
  their (possibly repeated, dotted or ``[a][b]``) field names.

The expression is compiled with ``re.DOTALL | re.MULTILINE`` (as Logstash/Oniguruma: ``.``
matches newlines, ``^``/``$`` match at line boundaries; use ``\\A``/``\\z`` for the whole
text) and used with *search* semantics.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from .charclass import ClassError, parse_class
from .library import GrokError, PatternLibrary

__all__ = ["Capture", "Translation", "field_path", "translate"]

_REF = re.compile(r"%\{(\w+)(?::([^:}]+))?(?::(\w+))?\}")
_GROUP_NAME = re.compile(r"[A-Za-z_@\[\]][\w.@\[\]-]*")
_FLAGS = re.compile(r"\(\?([imx]*)(?:-([imx]*))?([:)])")
_PLAIN = re.compile(r"[^\\\[\]()%*+?{}|^$]+")
_QUANT = re.compile(r"[*+?]|\{(\d*)(,?)(\d*)\}")
# escapes with a fixed translation (the value: Python text)
_ESCAPES = {
    "h": "[0-9a-fA-F]",
    "H": "[^0-9a-fA-F]",
    "z": r"\Z",
    "Z": r"(?=\n?\Z)",
    "e": r"\x1b",
    "R": r"(?>\r\n|[\n\x0b\x0c\r\x85\u2028\u2029])",
    "N": r"[^\n]",
    "O": r"[\s\S]",
    "n": r"\n",
    "t": r"\t",
    "r": r"\r",
    "f": r"\f",
    "v": r"\v",
    "a": r"\a",
}
_NUMERIC = re.compile(
    r"x\{([0-9A-Fa-f]{1,8})\}|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|o\{([0-7]+)\}|(0[0-7]{0,2}|[1-7][0-7]{2})"
)
_UNSUPPORTED = {
    "K": "keep (resetting the match start)",
    "X": "an extended grapheme cluster",
    "y": "a text segment boundary",
    "Y": "a text segment non-boundary",
    "c": "a control character escape",
    "C": "a control character escape",
    "M": "a meta character escape",
}
TYPES = ("int", "float", "string")


@dataclass(frozen=True)
class Capture:
    """One capture group: internal group name, field name, nested path, conversion."""

    group: str
    name: str
    path: tuple[str, ...]
    type: str | None


@dataclass
class Translation:
    regex: str
    captures: list[Capture]


def field_path(name: str) -> tuple[str, ...]:
    """``[a][b]`` and ``a.b`` → ``("a", "b")``; ``name`` → ``("name",)``."""
    if name.startswith("["):
        parts = re.findall(r"\[([^\[\]]+)\]", name)
        if not parts or "".join(f"[{p}]" for p in parts) != name:
            raise GrokError(f"bad field reference {name!r} (expected [a][b])")
        return tuple(parts)
    if "." in name:
        parts = name.split(".")
        if not all(parts):
            raise GrokError(f"bad field name {name!r}")
        return tuple(parts)
    if not name:
        raise GrokError("empty field name")
    return (name,)


def translate(
    pattern: str, library: PatternLibrary, *, named_captures_only: bool = True
) -> Translation:
    """Expand ``pattern`` against ``library`` and translate it to Python syntax.

    With ``named_captures_only=False`` (Logstash's option), a reference without a field
    name (``%{WORD}``) captures too, into a field named after the pattern (``WORD``)."""
    t = _Translator(library)
    t.named_only = named_captures_only
    t.scan(pattern, "<pattern>")
    return Translation("".join(t.out), t.captures)


class _Translator:
    def __init__(self, library: PatternLibrary) -> None:
        self.lib = library
        self.out: list[str] = []
        self.captures: list[Capture] = []
        self.by_name: dict[str, str] = {}  # field name -> first internal group name
        self.stack: list[str] = []
        self.named_only = True

    def capture(self, field: str, typ: str | None) -> str:
        if typ is not None and typ not in TYPES:
            raise GrokError(f"unknown type {typ!r} for field {field!r}: use int or float")
        g = f"g{len(self.captures)}"
        self.captures.append(
            Capture(g, field, field_path(field), None if typ in (None, "string") else typ)
        )
        self.by_name.setdefault(field, g)
        return g

    def reference(self, m: re.Match[str], where: str) -> None:
        name, field, typ = m.group(1), m.group(2), m.group(3)
        rx = self.lib.get(name)
        if rx is None:
            close = difflib.get_close_matches(name, self.lib.names(), 3)
            hint = self.lib.missing_hint(name) or (
                f" (did you mean {', '.join(close)}?)" if close else ""
            )
            raise GrokError(f"{where}: unknown pattern %{{{name}}}{hint}")
        if name in self.stack:
            chain = " → ".join([*self.stack, name])
            raise GrokError(f"recursive pattern: {chain}")
        if not field and not self.named_only:
            field = name
        if field:
            self.out.append(f"(?P<{self.capture(field, typ)}>")
        elif typ:
            raise GrokError(f"{where}: %{{{name}::{typ}}} needs a field name")
        self.out.append("(?:")
        self.stack.append(name)
        self.scan(rx, name)
        self.stack.pop()
        self.out.append(")")
        if field:
            self.out.append(")")

    def scan(self, text: str, where: str) -> None:
        out = self.out
        pending = [0]  # per open group: scoped-flag groups to close with it
        starts: list[int] = []  # per open group: where it begins in out
        atom = -1  # where the last quantifiable item begins in out (-1: none)
        quantified = False  # that item already carries a quantifier
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            q = _QUANT.match(text, i) if c in "*+?{" else None
            if q is not None and q.group(1) is not None and not (q.group(1) or q.group(3)):
                q = None  # "{}", "{,}": literal text in Oniguruma
            if q is not None:
                if atom < 0:
                    raise GrokError(
                        f"{where}: target of repeat operator is not specified or invalid: "
                        f"{text[max(0, i - 10) : i + 1]!r}"
                    )
                if quantified:  # Oniguruma: a quantifier on a quantified item nests
                    out.insert(atom, "(?:")
                    out.append(")")
                i = self.quantifier(q, text)
                quantified = True
                continue
            start = len(out)
            quantified = False
            if c == "\\":
                i, is_atom = self.escape(text, i, where)
                atom = start if is_atom else -1
            elif c == "[":
                try:
                    cls, i = parse_class(text, i)
                except ClassError as exc:
                    raise GrokError(f"{where}: {exc} in {text[i : i + 40]!r}") from None
                out.append(cls)
                atom = start
            elif c == "(":
                depth = len(pending)
                i = self.open_group(text, i, where, pending)
                if len(pending) > depth:
                    starts.append(start)
                atom = -1
            elif c == ")":
                if len(pending) == 1:
                    raise GrokError(f"{where}: unbalanced ')' at {i}")
                out.append(")" * (1 + pending.pop()))
                atom = starts.pop()
                i += 1
            elif c == "%" and text.startswith("%{", i):
                m = _REF.match(text, i)
                if m is None:
                    raise GrokError(f"{where}: bad pattern reference at {text[i : i + 30]!r}")
                self.reference(m, where)
                atom = start
                i = m.end()
            else:
                m = _PLAIN.match(text, i)
                if m is not None:  # a run of literal characters: one piece, the last apart
                    run = m.group()
                    if len(run) > 1:
                        out.append(run[:-1])
                    atom = len(out)
                    out.append(run[-1])
                    i = m.end()
                    continue
                out.append("\\{" if c == "{" else "\\}" if c == "}" else c)
                atom = -1 if c in "|^$" else start
                i += 1
        if len(pending) > 1:
            raise GrokError(f"{where}: missing ')'")
        out.append(")" * pending[0])

    def quantifier(self, q: re.Match[str], text: str) -> int:
        """Oniguruma's quantifiers (Ruby syntax) → Python's.

        A ``?`` or ``+`` right after ``*``, ``+``, ``?`` makes it lazy or possessive;
        after an interval ``{n,m}`` a ``?`` makes it lazy, but a ``+`` is a new
        quantifier (``a{2}+`` is ``(?:a{2})+``) and so is the ``?`` after ``{n}``
        (``a{2}?`` is ``(?:a{2})?``) — the caller nests those.
        """
        out = self.out
        i = q.end()
        if q.group(1) is None:  # * + ?
            out.append(q.group(0))
            if i < len(text) and text[i] in "?+":
                out.append(text[i])
                i += 1
            return i
        lo, comma, hi = q.group(1), q.group(2), q.group(3)
        out.append(f"{{{lo or 0}{comma}{hi}}}")
        if comma and text.startswith("?", i):
            out.append("?")
            i += 1
        return i

    def escape(self, text: str, i: int, where: str) -> tuple[int, bool]:
        """Translate the escape at ``text[i]``: (end index, whether it is quantifiable)."""
        if i + 1 >= len(text):
            raise GrokError(f"{where}: pattern ends with a lone backslash")
        e = text[i + 1]
        out = self.out
        simple = _ESCAPES.get(e)
        if simple is not None:
            out.append(simple)
            return i + 2, e not in "zZ"
        if e in "kg" and i + 2 < len(text) and text[i + 2] in "<'":
            close = ">" if text[i + 2] == "<" else "'"
            end = text.find(close, i + 3)
            name = text[i + 3 : end] if end > 0 else ""
            if e == "g":
                raise GrokError(
                    f"{where}: subexpression call \\g<{name}> is not supported "
                    "(Python's engines cannot call a group)"
                )
            g = self.by_name.get(name)
            if g is None:
                what = "a numbered" if name.lstrip("+-").isdigit() else "an unknown"
                raise GrokError(f"{where}: back-reference \\k<{name}> to {what} group")
            out.append(f"(?P={g})")
            return end + 1, True
        m = _NUMERIC.match(text, i + 1)
        if m is not None:
            hexa = m.group(1) or m.group(2) or m.group(3)
            cp = int(hexa, 16) if hexa else int(m.group(4) or m.group(5), 8)
            if cp > 0x10FFFF:
                raise GrokError(f"{where}: bad escape {text[i : m.end()]!r}")
            out.append(f"\\U{cp:08x}" if cp > 0xFFFF else f"\\u{cp:04x}")
            return m.end(), True
        if e.isdigit():
            raise GrokError(
                f"{where}: numbered back-reference \\{e} is not allowed where groups are "
                "named (as in Oniguruma): use \\k<name>"
            )
        if e in _UNSUPPORTED:
            raise GrokError(f"{where}: {_UNSUPPORTED[e]} (\\{e}) is not supported")
        if e in "AbBG":
            out.append(text[i : i + 2])
            return i + 2, False
        if e in "pP" and text.startswith("{", i + 2) and "}" in text[i + 3 :]:
            end = text.index("}", i + 3) + 1
            out.append(text[i:end])  # a Unicode property: the regex engine reads it
            return end, True
        if e in "wWdDsS":
            out.append(text[i : i + 2])
            return i + 2, True
        # Oniguruma: an escaped letter without a meaning stands for itself
        out.append(e if e.isalpha() else text[i : i + 2])
        return i + 2, True

    def open_group(self, text: str, i: int, where: str, pending: list[int]) -> int:
        out = self.out
        if text.startswith("(?#", i):
            end = text.find(")", i)
            if end < 0:
                raise GrokError(f"{where}: unterminated comment")
            return end + 1
        named = None
        if text.startswith("(?<", i) and not text.startswith(("(?<=", "(?<!"), i):
            end = text.find(">", i + 3)
            named, nxt = text[i + 3 : end], end + 1
        elif text.startswith("(?P<", i):
            end = text.find(">", i + 4)
            named, nxt = text[i + 4 : end], end + 1
        elif text.startswith("(?'", i):
            end = text.find("'", i + 3)
            named, nxt = text[i + 3 : end], end + 1
        if named is not None:
            if not _GROUP_NAME.fullmatch(named):
                raise GrokError(f"{where}: bad group name {named!r}")
            field, _, typ = named.partition(":")
            out.append(f"(?P<{self.capture(field, typ or None)}>")
            pending.append(0)
            return nxt
        fm = _FLAGS.match(text, i)
        if fm is not None and (fm.group(1) or fm.group(2) is not None):
            on = fm.group(1).replace("m", "s")
            off = (fm.group(2) or "").replace("m", "s")
            spec = on + (f"-{off}" if off else "")
            out.append(f"(?{spec}:")
            if fm.group(3) == ")":  # (?i) — applies to the end of the enclosing group
                pending[-1] += 1
            else:
                pending.append(0)
            return fm.end()
        if text.startswith(("(?~", "(?("), i):
            what = "absent operator (?~…)" if text[i + 2] == "~" else "conditional (?(…)…)"
            raise GrokError(f"{where}: the {what} is not supported")
        if text.startswith("(?", i) and not text.startswith(
            ("(?:", "(?=", "(?!", "(?>", "(?<=", "(?<!"), i
        ):
            raise GrokError(f"{where}: unknown group construct {text[i : i + 4]!r}")
        if text.startswith("(?", i):
            pending.append(0)
            out.append("(?")
            return i + 2
        pending.append(0)
        out.append("(?:")
        return i + 1


def compile_error(regex: str, exc: Any) -> str:
    pos = getattr(exc, "pos", None)
    if pos is None:
        return str(exc)
    return f"{exc} near {regex[max(0, pos - 20) : pos + 20]!r}"
