"""Possessive quantifiers become atomic groups: the same matches, and right on 3.11.2."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
import regex as regex_mod
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qframe.grok import Grok, PatternLibrary
from qframe.grok.engine import FLAGS
from qframe.grok.rewrite import atomic_possessives


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("(?:ab?c)*+", "(?>(?:ab?c)*)"),
        (r'"(?:[^\\"]++|\\.)*+"', r'"(?>(?:(?>[^\\"]+)|\\.)*)"'),
        ("a{2,3}+b", "(?>a{2,3})b"),
        ("a{,3}+", "(?>a{,3})"),
        ("(?P<x>a)?+", "(?>(?P<x>a)?)"),
        ("x|y++", "x|(?>y+)"),
        ("[]+]++", "(?>[]+]+)"),
        ("[a\\]]*+", "(?>[a\\]]*)"),
        ("(?>a)++", "(?>(?>a)+)"),
        # not possessive: kept as they are
        (r"\++", r"\++"),
        ("a{}+", "a{}+"),
        ("a*?+", "a*?+"),
        ("a+?", "a+?"),
        ("[++]", "[++]"),
        ("(?#x++)a", "(?#x++)a"),
        ("(?x)a++ # c", "(?x)a++ # c"),  # verbose: left alone
    ],
)
def test_possessive_quantifiers_become_atomic_groups(source: str, expected: str) -> None:
    assert atomic_possessives(source) == expected


def _opcodes(tree: Any) -> set[str]:
    found: set[str] = set()
    for item in tree:
        if isinstance(item, tuple) and item and hasattr(item[0], "name"):
            found.add(item[0].name)
        if isinstance(item, list | tuple) or type(item).__name__ == "SubPattern":
            found |= _opcodes(item)
    return found


def test_the_compiled_library_holds_no_possessive_repeat() -> None:
    from re import _parser  # type: ignore[attr-defined]

    lib = PatternLibrary()
    ops: set[str] = set()
    for name in lib.names():
        ops |= _opcodes(_parser.parse(Grok(f"%{{{name}}}", lib).regex, FLAGS))
    assert "POSSESSIVE_REPEAT" not in ops
    assert {"ATOMIC_GROUP", "MAX_REPEAT"} <= ops  # the walk sees the tree
    possessive = _opcodes(_parser.parse("(?:ab?c)*+", FLAGS))
    assert "POSSESSIVE_REPEAT" in possessive
    assert "POSSESSIVE_REPEAT" not in _opcodes(_parser.parse(atomic_possessives("(?:ab?c)*+")))


def test_gh_106052_pattern_does_not_match_through_grok() -> None:
    g = Grok(r"\A(?:ab?c)*+\z")
    assert g.fast is not None and g.fast.search("a") is None
    assert g.slow.search("a") is None
    assert g.match("abcac") == {}


# Random expressions over a small alphabet, with possessive quantifiers anywhere.
_ATOMS = st.sampled_from(["a", "b", "c", "[ab]", "[^a]", ".", r"\d", "(?:ab?c)", "(a|bc)"])
_QUANTS = st.sampled_from(["", "*", "+", "?", "{1,2}", "*+", "++", "?+", "{0,2}+", "*?"])


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.booleans()):
            inner = draw(_expressions(depth + 1))
            atom = draw(st.sampled_from(["(?:{})", "({})", "(?>{})"])).format(inner)
        else:
            atom = draw(_ATOMS)
        parts.append(atom + draw(_QUANTS))
    alt = "".join(parts)
    return alt + ("|" + draw(st.sampled_from(["a", "b+", "c*+"])) if draw(st.booleans()) else "")


@pytest.mark.skipif(
    sys.version_info < (3, 11, 5), reason="possessive repeats are wrong here (gh-106052)"
)
@settings(max_examples=500, deadline=None)
@given(_expressions(), st.text("abc1", max_size=8))
@example(r"[^a](?:(a|bc)|c*+)*+", "1a")  # the stdlib's possessive repeat gets this wrong
def test_the_rewrite_keeps_every_match_and_capture(source: str, text: str) -> None:
    # the oracle is the regex package's possessive repeat: the stdlib's own is wrong in
    # more cases than gh-106052 (r"[^a](?:(a|bc)|c*+)*+" on "1a" captures "" where the
    # regex package, Oniguruma and the atomic form capture "a")
    want = regex_mod.compile(source, FLAGS | regex_mod.VERSION0)
    got = re.compile(atomic_possessives(source), FLAGS)
    for fn in ("search", "fullmatch"):
        a, b = getattr(want, fn)(text), getattr(got, fn)(text)
        assert (a is None) == (b is None), (source, text, fn)
        if a is not None:
            assert a.span() == b.span() and a.groups() == b.groups(), (source, text, fn)


# QUOTEDSTRING's earlier, possessive form: the library's unrolled one must match the same
_QS_POSSESSIVE = (
    r"""(?>(?<!\\)(?:"(?:[^\\"]++|\\.)*+"|'(?:[^\\']++|\\.)*+'|`(?:[^\\`]++|\\.)*+`))"""
)


@pytest.mark.skipif(
    sys.version_info < (3, 11, 5), reason="possessive repeats are wrong here (gh-106052)"
)
@settings(max_examples=1500, deadline=None)
@given(st.text("\"'`\\ab \n", max_size=14))
def test_the_unrolled_quoted_string_matches_as_the_possessive_form(text: str) -> None:
    old = re.compile(rf"(?P<q>{_QS_POSSESSIVE}) ?(?P<r>.*)", FLAGS)
    new = Grok("%{QS:q} ?%{GREEDYDATA:r}")
    for a, b in (
        (old.search(text), new.fast.search(text)),
        (old.search(text), new.slow.search(text)),
    ):
        assert (a is None) == (b is None), text
        if a is not None:
            assert a.span() == b.span() and a.groups() == b.groups(), text
