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

from .library import GrokError, PatternLibrary

__all__ = ["Capture", "Translation", "field_path", "translate"]

_REF = re.compile(r"%\{(\w+)(?::([^:}]+))?(?::(\w+))?\}")
_GROUP_NAME = re.compile(r"[A-Za-z_@\[\]][\w.@\[\]-]*")
_FLAGS = re.compile(r"\(\?([imx]*)(?:-([imx]*))?([:)])")
_POSIX = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "blank": r" \t",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
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


def translate(pattern: str, library: PatternLibrary) -> Translation:
    """Expand ``pattern`` against ``library`` and translate it to Python syntax."""
    t = _Translator(library)
    t.scan(pattern, "<pattern>")
    return Translation("".join(t.out), t.captures)


class _Translator:
    def __init__(self, library: PatternLibrary) -> None:
        self.lib = library
        self.out: list[str] = []
        self.captures: list[Capture] = []
        self.by_name: dict[str, str] = {}  # field name -> first internal group name
        self.stack: list[str] = []

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
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise GrokError(f"{where}: unknown pattern %{{{name}}}{hint}")
        if name in self.stack:
            chain = " → ".join([*self.stack, name])
            raise GrokError(f"recursive pattern: {chain}")
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
        i = 0
        n = len(text)
        while i < n:
            c = text[i]
            if c == "\\":
                i = self.escape(text, i, where)
            elif c == "[":
                i = self.char_class(text, i, where)
            elif c == "(":
                i = self.open_group(text, i, where, pending)
            elif c == ")":
                if len(pending) == 1:
                    raise GrokError(f"{where}: unbalanced ')' at {i}")
                out.append(")" * (1 + pending.pop()))
                i += 1
            elif c == "%" and text.startswith("%{", i):
                m = _REF.match(text, i)
                if m is None:
                    raise GrokError(f"{where}: bad pattern reference at {text[i : i + 30]!r}")
                self.reference(m, where)
                i = m.end()
            else:
                out.append(c)
                i += 1
        if len(pending) > 1:
            raise GrokError(f"{where}: missing ')'")
        out.append(")" * pending[0])

    def escape(self, text: str, i: int, where: str) -> int:
        if i + 1 >= len(text):
            raise GrokError(f"{where}: pattern ends with a lone backslash")
        e = text[i + 1]
        out = self.out
        if e == "h":
            out.append("[0-9a-fA-F]")
        elif e == "H":
            out.append("[^0-9a-fA-F]")
        elif e == "z":
            out.append(r"\Z")
        elif e == "Z":
            out.append(r"(?=\n?\Z)")
        elif e == "k" and text.startswith("<", i + 2):
            end = text.find(">", i + 3)
            name = text[i + 3 : end] if end > 0 else ""
            g = self.by_name.get(name)
            if g is None:
                raise GrokError(f"{where}: back-reference to unknown group {name!r}")
            out.append(f"(?P={g})")
            return end + 1
        elif e == "x" and text.startswith("{", i + 2):
            end = text.find("}", i + 3)
            try:
                out.append(f"\\U{int(text[i + 3 : end], 16):08x}")
            except ValueError as exc:
                raise GrokError(f"{where}: bad \\x{{…}} escape") from exc
            return end + 1
        else:
            out.append(text[i : i + 2])
        return i + 2

    def char_class(self, text: str, i: int, where: str) -> int:
        out = ["["]
        j = i + 1
        if text.startswith("^", j):
            out.append("^")
            j += 1
        if text.startswith("]", j):
            out.append(r"\]")
            j += 1
        n = len(text)
        while j < n:
            c = text[j]
            if c == "]":
                out.append("]")
                self.out.append("".join(out))
                return j + 1
            if c == "\\" and j + 1 < n:
                e = text[j + 1]
                out.append("0-9a-fA-F" if e == "h" else text[j : j + 2])
                j += 2
            elif c == "[":
                m = re.match(r"\[:(\^?)(\w+):\]", text[j:])
                if m and m.group(2) in _POSIX and not m.group(1):
                    out.append(_POSIX[m.group(2)])
                    j += m.end()
                else:
                    out.append(r"\[")
                    j += 1
            else:
                out.append(c)
                j += 1
        raise GrokError(f"{where}: unterminated character class at {i}")

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
