"""Possessive quantifiers become atomic groups: the same matches, and right on 3.11.2."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.grok import Grok
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


def test_the_compiled_library_holds_no_possessive_repeat() -> None:
    g = Grok("%{COMBINEDAPACHELOG} %{SYSLOG5424SD}")
    assert "++" not in g.regex.replace("[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+", "")
    assert "*+" not in g.regex.replace("'*+/", "")
    assert '(?>(?:(?>[^\\\\"]+)|\\\\.)*)' in g.regex


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
def test_the_rewrite_keeps_every_match_and_capture(source: str, text: str) -> None:
    want = re.compile(source, FLAGS)
    got = re.compile(atomic_possessives(source), FLAGS)
    for fn in ("search", "fullmatch"):
        a, b = getattr(want, fn)(text), getattr(got, fn)(text)
        assert (a is None) == (b is None), (source, text, fn)
        if a is not None:
            assert a.span() == b.span() and a.groups() == b.groups(), (source, text, fn)
