"""The engine rule: the backtracking estimate, the per-line engine choice, the timeout."""

from __future__ import annotations

import pytest

from qframe.grok import Grok, GrokTimeout, estimate
from qframe.grok.engine import FLAGS


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(\w+\s?)+$", r"(a|a)*b", r"(a|ab)*c", r"(.*a){20}", r"(x+x+)+y", r"(a)\1"],
)
def test_nested_ambiguous_repetition_is_flagged_exponential(pattern: str) -> None:
    assert estimate(pattern, FLAGS).exponential


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?>a+)+b",
        r"(?:a++)+b",
        r"(?:\.[a-z]+)*,",
        r"([0-9A-F]{1,4}:){7}[0-9A-F]{1,4}",
        r'(?:[^\\"]|\\.)*',
        r'"(?:[^\\"]++|\\.)*+"',
    ],
)
def test_unambiguous_repetition_is_not_exponential(pattern: str) -> None:
    assert not estimate(pattern, FLAGS).exponential


@pytest.mark.parametrize(
    ("pattern", "degree"),
    [
        ("abc", 1),
        (r"\d{1,3}\.\d{1,3}", 1),
        (r"\S+", 2),
        (r'\S+"x', 2),  # the junction resolves: a mandatory x follows
        (r".*x.*y", 3),
        (r".*?x.*?x.*?y", 4),
        (r"\s+.*", 2),  # ".*" to the end cannot fail
    ],
)
def test_the_degree_counts_search_starts_unbounded_parts_and_open_junctions(
    pattern: str, degree: int
) -> None:
    assert estimate(pattern, FLAGS).degree == degree


def test_an_exponential_pattern_always_takes_the_bounded_engine() -> None:
    g = Grok(r"(?<x>(a+)+)$")
    assert g.max_fast_len < 0 and g.engine == "regex"


def test_a_linear_pattern_always_takes_the_fast_engine() -> None:
    assert Grok(r"%{IPV4:ip}").engine == "re"


def test_the_fast_engine_limit_shrinks_with_the_degree_and_grows_with_the_timeout() -> None:
    d2, d3 = Grok(r"%{NOTSPACE:a}"), Grok(r".*x.*y")
    assert d2.max_fast_len > d3.max_fast_len > 0
    assert Grok(r".*x.*y", timeout=5.0).max_fast_len > d3.max_fast_len


def test_a_line_longer_than_the_fast_limit_matches_the_same_on_the_bounded_engine() -> None:
    g = Grok("%{COMBINEDAPACHELOG}")
    agent = "Mozilla/5.0 " + "x" * (g.max_fast_len + 100)
    line = f'1.2.3.4 - - [26/Nov/2026:05:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "{agent}"'
    assert len(line) > g.max_fast_len
    got = g.match(line)
    assert got is not None and got["agent"] == f'"{agent}"' and got["bytes"] == "5"


def test_a_catastrophic_pattern_times_out_instead_of_hanging() -> None:
    g = Grok(r"^(?<x>(a|aa)+)$", timeout=0.05)
    hostile = "a" * 80 + "!"  # ~2^55 ways to split: without the budget, this never ends
    with pytest.raises(GrokTimeout):
        g.search(hostile)
    assert g.match("aaa") == {"x": "aaa"}  # ordinary lines still match


def test_a_risky_pattern_from_a_dropped_in_file_still_works_on_the_bounded_engine() -> None:
    from qframe.grok import PatternLibrary

    # the shape of the legacy UNIXPATH: a repeated group inside a repetition
    lib = PatternLibrary({"OLDPATH": r"(/([\w_%!$@:.,+~-]+|\\.)*)+"})
    g = Grok("%{OLDPATH:path}", lib)
    assert g.engine == "regex"
    assert g.match("open /usr/local/bin now") == {"path": "/usr/local/bin"}


def test_the_bounded_engine_has_logstash_semantics_too() -> None:
    from qframe.grok import PatternLibrary

    lib = PatternLibrary({"OLDPATH": r"(/([\w_%!$@:.,+~-]+|\\.)*)+"})
    g = Grok("^%{OLDPATH:path}%{GREEDYDATA:rest}", lib)
    assert g.engine == "regex"
    # dot matches newlines, ^ matches at a line start (as on the fast engine)
    assert g.match("x\n/a b\nc") == {"path": "/a", "rest": " b\nc"}
