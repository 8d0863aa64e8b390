"""Rewrites of a translated (Python-syntax) expression that keep its meaning.

:func:`atomic_possessives`: every possessive quantifier ``X*+``, ``X++``, ``X?+``,
``X{m,n}+`` becomes an atomic group ``(?>X*)`` … — the same language and the same
captures (a possessive repeat is by definition the atomic group of the greedy one), but
it avoids the stdlib's possessive-repeat code, which is wrong before CPython 3.11.5
(gh-106052: ``re.fullmatch('(?:ab?c)*+', 'a')`` matches on 3.11.2, Debian 12's Python,
which the container image runs).  Atomic groups are correct there.

The rewrite works on the text of a Python expression: escapes, character classes, groups
(any ``(`` … ``)``), and the quantifiers ``*``, ``+``, ``?`` and ``{m,n}`` (a ``{`` that
does not open a valid quantifier is a literal, as in :mod:`re`).  An expression with the
verbose flag (``x``) is left as it is: there, white space and ``#`` comments would have
to be read too.
"""

from __future__ import annotations

import re

__all__ = ["atomic_possessives"]

_BRACE = re.compile(r"\{(?:\d+(?:,\d*)?|,\d*)\}")
_VERBOSE = re.compile(r"\(\?[aiLmsux]*x")


def _class_end(rx: str, i: int) -> int:
    """The index after the character class that starts at ``rx[i] == '['``."""
    n = len(rx)
    j = i + 1
    if j < n and rx[j] == "^":
        j += 1
    if j < n and rx[j] == "]":  # a ']' first is a literal
        j += 1
    while j < n:
        c = rx[j]
        if c == "\\":
            j += 2
        elif c == "]":
            return j + 1
        else:
            j += 1
    return n  # unterminated: re reports it; copy the rest unchanged


def atomic_possessives(rx: str) -> str:
    """``rx`` with each possessive quantifier written as an atomic group."""
    if "+" not in rx or _VERBOSE.search(rx):
        return rx
    out: list[str] = []
    opened: list[int] = []  # index in out of each open group's "("
    atom = -1  # index in out where the last atom starts; -1: none (a quantifier is an error)
    i, n = 0, len(rx)
    while i < n:
        c = rx[i]
        quant = ""
        if c == "\\":
            atom = len(out)
            out.append(rx[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = _class_end(rx, i)
            atom = len(out)
            out.append(rx[i:j])
            i = j
            continue
        if c == "(":
            if rx.startswith("(?#", i):  # a comment: not an atom
                j = rx.find(")", i)
                j = n if j < 0 else j + 1
                out.append(rx[i:j])
                i = j
                continue
            opened.append(len(out))
            head = "(?" if rx.startswith("(?", i) else "("
            out.append(head)
            i += len(head)
            atom = -1
            continue
        if c == ")":
            out.append(")")
            i += 1
            atom = opened.pop() if opened else -1
            continue
        if c in "*+?":
            quant = c
        elif c == "{":
            m = _BRACE.match(rx, i)
            if m is not None:
                quant = m.group()
        if not quant:
            atom = -1 if c == "|" else len(out)
            out.append(c)
            i += 1
            continue
        j = i + len(quant)
        if atom >= 0 and j < n and rx[j] == "+":
            out.insert(atom, "(?>")
            out.append(quant + ")")
            i = j + 1
            atom = -1
            continue
        if j < n and rx[j] == "?":  # lazy
            quant += "?"
        out.append(quant)
        i += len(quant)
    return "".join(out)
