"""The required literal: found only where every match holds it, and a line without it
is no match (the engine would have found none either)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.grok import Grok, PatternLibrary
from qframe.grok.engine import FLAGS
from qframe.grok.prefilter import required_literal

from .examples import CAPTURES, EXAMPLES

LIB = PatternLibrary()


@pytest.mark.parametrize(
    ("regex", "literal"),
    [
        (r'\[(?P<t>\d+)\] "x', '] "x'),
        (r"ab(?:cde)+f", "cde"),
        (r"(?=put )\w+", "put "),
        (r"(?:abc)?d|xyz", None),  # alternatives, optional parts: nothing required
        (r"(?:abcd){0,2}x", None),
        (r"(?i:abc)x", None),  # case-insensitive: skipped
        (r"(?!abc)xy", "xy"),
        (r"a.b", None),  # single characters are not worth a check
        (r"\p{L}abc", None),  # not for the stdlib parser: no prefilter
    ],
)
def test_the_required_literal_of_an_expression(regex: str, literal: str | None) -> None:
    assert required_literal(regex, FLAGS) == literal


def test_ignorecase_expressions_have_none() -> None:
    import re

    assert required_literal("abc", FLAGS | re.IGNORECASE) is None
    assert required_literal("(?i)abc", FLAGS) is None


def test_apache_lines_are_prefiltered_on_their_request_quote() -> None:
    g = Grok("%{COMBINEDAPACHELOG}", LIB)
    assert g.required == '] "'
    assert g.search("Nov 26 05:00:01 web1 sshd[123]: Accepted publickey") is None


@pytest.mark.parametrize(("pattern", "text", "expected"), CAPTURES)
def test_every_capture_example_holds_its_required_literal(
    pattern: str, text: str, expected: object
) -> None:
    g = Grok(pattern, LIB)
    assert g.required is None or g.required in text
    assert g.match(text) is not None


_NAMES = sorted(n for n in EXAMPLES if Grok(f"%{{{n}}}", LIB).required)
_GOOD = [ex for good, _ in EXAMPLES.values() for ex in good if ex]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_NAMES),
    st.lists(st.sampled_from(_GOOD), max_size=3),
    st.text('] ["(): putsesion/dev:urn,', max_size=30),
)
def test_the_prefilter_never_rejects_a_line_the_engine_matches(
    name: str, pieces: list[str], noise: str
) -> None:
    g = Grok(f"%{{{name}}}", LIB)
    text = noise.join(pieces) if pieces else noise
    engine = g.fast.search(text)  # no prefilter: the engine alone
    assert (engine is None) == (g.search(text) is None)
    if engine is not None:
        assert g.required in text
