"""Every built-in pattern: examples it matches exactly, examples it rejects, and the
legacy Logstash capture field names of the compound patterns, on both engines."""

from __future__ import annotations

import pytest

from qframe.grok import Grok, PatternLibrary

from .examples import CAPTURES as CORE_CAPTURES
from .examples import EXAMPLES as CORE_EXAMPLES
from .families import FAMILY_CAPTURES, FAMILY_EXAMPLES

EXAMPLES = {**CORE_EXAMPLES, **FAMILY_EXAMPLES}
CAPTURES = CORE_CAPTURES + FAMILY_CAPTURES

LIB = PatternLibrary()


def whole(name: str) -> Grok:
    return Grok(rf"\A%{{{name}}}\z", LIB)


def test_every_builtin_pattern_has_examples() -> None:
    assert sorted(EXAMPLES) == LIB.names()


def test_every_pattern_except_the_catch_alls_has_a_non_matching_example() -> None:
    catch_alls = {name for name, (_, bad) in EXAMPLES.items() if not bad}
    # the request lines fall back to the raw request (%{DATA:rawrequest}), as in Logstash
    assert catch_alls == {
        "DATA", "GREEDYDATA", "LOG", "JAVALOGMESSAGE", "ELB_REQUEST_LINE", "S3_REQUEST_LINE"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text"), [(n, t) for n, (good, _) in EXAMPLES.items() for t in good]
)
def test_builtin_pattern_matches_its_example_exactly(name: str, text: str) -> None:
    g = whole(name)
    assert g.fast is not None and g.fast.search(text) is not None
    assert g.slow.search(text) is not None  # the bounded engine agrees


@pytest.mark.parametrize(
    ("name", "text"), [(n, t) for n, (_, bad) in EXAMPLES.items() for t in bad]
)
def test_builtin_pattern_rejects_its_counter_example(name: str, text: str) -> None:
    g = whole(name)
    assert g.fast is not None and g.fast.search(text) is None
    assert g.slow.search(text) is None


@pytest.mark.parametrize(("pattern", "text", "expected"), CAPTURES)
def test_compound_pattern_captures_the_legacy_field_names(
    pattern: str, text: str, expected: dict[str, object]
) -> None:
    g = Grok(pattern, LIB)
    got = g.match(text)
    assert got is not None
    for key, value in expected.items():
        assert got.get(key) == value, key
    if pattern not in ("%{URI}",):
        assert set(got) == set(expected)


@pytest.mark.parametrize(("pattern", "text", "expected"), CAPTURES)
def test_both_engines_capture_the_same(pattern: str, text: str, expected: object) -> None:
    g = Grok(pattern, LIB)
    assert g.fast is not None
    fast, slow = g.fast.search(text), g.slow.search(text)
    assert fast.groups() == slow.groups()
    assert fast.span() == slow.span()


def test_every_builtin_pattern_compiles_for_the_fast_engine_without_exponential_risk() -> None:
    risky = [n for n in LIB.names() if Grok(f"%{{{n}}}", LIB).max_fast_len < 0]
    assert risky == []


def test_apache_and_syslog_lines_of_ordinary_length_take_the_fast_engine() -> None:
    for name in ("COMBINEDAPACHELOG", "SYSLOG5424LINE", "HTTPD_ERRORLOG", "SYSLOGPAMSESSION"):
        assert Grok(f"%{{{name}}}", LIB).max_fast_len >= 240, name
    for name in ("SYSLOGLINE", "CRONLOG", "IPORHOST", "URI"):
        assert Grok(f"%{{{name}}}", LIB).max_fast_len >= 3500, name
