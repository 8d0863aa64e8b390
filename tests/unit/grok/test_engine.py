"""The engine rule: the backtracking estimate, the per-line engine choice, the timeout."""

from __future__ import annotations

import re

import pytest
import regex

from qframe.grok import Grok, GrokError, GrokTimeout, estimate
from qframe.grok.engine import FLAGS, RE_STEPS_PER_S


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


@pytest.mark.parametrize(
    ("pattern", "degree", "limit"),
    [("%{NOTSPACE:a}", 2, 3872), ("%{COMBINEDAPACHELOG}", 3, 246), (r".*?x.*?x.*?y", 4, 62)],
)
def test_the_fast_engine_limit_is_the_longest_line_whose_n_to_the_degree_fits_half_a_second(
    pattern: str, degree: int, limit: int
) -> None:
    # the package doc's numbers for the default timeout (500 ms): n^d <= R * 0.5 < (n+1)^d
    g = Grok(pattern)
    assert g.estimate.degree == degree and g.timeout == 0.5
    assert g.max_fast_len == limit
    assert limit**degree <= RE_STEPS_PER_S * 0.5 < (limit + 1) ** degree
    assert g.engine == f"re up to {limit} chars, then regex"


def test_a_line_of_exactly_the_fast_limit_takes_re_and_one_character_more_takes_regex() -> None:
    g = Grok("%{NOTSPACE:a}")
    at, over = g.search("x" * g.max_fast_len), g.search("x" * (g.max_fast_len + 1))
    assert type(at) is re.Match
    assert type(over) is not re.Match and isinstance(over, type(regex.match("", "")))
    assert at[0] == "x" * g.max_fast_len and over[0] == "x" * (g.max_fast_len + 1)


def test_a_trailing_greedy_dot_star_cannot_fail_because_dot_matches_newlines() -> None:
    # estimated under the engine's flags (DOTALL): without them ".*" could stop at a
    # newline and leave a junction open (degree 3, 246 characters)
    g = Grok(r"%{SPACE}%{GREEDYDATA:rest}")
    assert g.estimate.degree == 2 and g.max_fast_len == 3872


@pytest.mark.parametrize("call", ["search", "match"])
def test_a_per_call_timeout_overrides_the_patterns_own(call: str) -> None:
    g = Grok(r"^(?<x>(a|aa)+)$", timeout=3600.0)
    hostile = "a" * 30 + "!"  # ~1.3 million ways to split: far more than a millisecond
    with pytest.raises(GrokTimeout, match=r"after 0\.001s"):
        getattr(g, call)(hostile, 0.001)
    assert getattr(g, call)("a" * 30 + "!", None) is None  # the pattern's hour: it ends


def test_a_pattern_that_re_cannot_compile_runs_on_regex_and_says_why() -> None:
    g = Grok(r"(?<word>\p{Lu}\p{Ll}+)!")
    assert g.fast is None and g.engine == "regex"
    assert g.fast_error.startswith("bad escape \\p")
    assert g.estimate.exponential  # no estimate without re's parser: the worst is assumed
    assert "exponential" in g.estimate.describe()
    assert g.match("they said Hallo!") == {"word": "Hallo"}


def test_a_pattern_too_deeply_nested_for_the_estimate_is_taken_as_exponential() -> None:
    # named groups nested ~150 deep exhaust the recursion of the estimate (not of re's or
    # the regex module's compilers): the estimate fails, and the pattern takes the
    # bounded engine instead of being refused or run unbounded
    depth = 180
    pattern = "%{INT:n}"
    for i in range(depth):
        pattern = f"(?<g{i}>{pattern})?"
    g = Grok(pattern)
    with pytest.raises(RecursionError):
        estimate(g.regex, FLAGS)
    assert g.estimate.exponential and g.engine == "regex"
    got = g.match("42")
    assert got is not None and got["n"] == "42" and got[f"g{depth - 1}"] == "42"


def _nested(inner: str, depth: int) -> str:
    return "(?:" * depth + inner + ")" * depth


def test_a_linear_pattern_never_compiles_the_bounded_engine() -> None:
    # 300 nested groups: re compiles them, the regex module's parser runs out of recursion
    pattern = _nested("abc", 300)
    with pytest.raises(RecursionError):
        regex.compile(pattern, FLAGS | regex.VERSION0)
    g = Grok(pattern)
    assert g.engine == "re" and g.match("xabcx") == {}


def test_a_pattern_whose_bounded_engine_fails_to_compile_is_refused_at_configuration() -> None:
    # degree 2 (INT's [0-9]+): long lines would need the regex module, which cannot compile
    # it; that is found when the pattern is configured, not on the first long line
    assert Grok(_nested("%{INT:n}", 100)).engine == "re up to 3872 chars, then regex"
    with pytest.raises(GrokError, match="does not compile"):
        Grok(_nested("%{INT:n}", 300))


def test_named_captures_only_false_captures_unnamed_references_under_the_pattern_name() -> None:
    assert Grok("%{INT} %{WORD:w}").match("12 ab") == {"w": "ab"}
    got = Grok("%{INT} %{WORD:w}", named_captures_only=False).match("12 ab")
    assert got == {"INT": "12", "w": "ab"}


def test_the_field_names_are_listed_once_each_in_pattern_order() -> None:
    g = Grok(r"%{WORD:b} %{INT:a:int} %{WORD:b}")
    assert g.field_names == ["b", "a"]
    assert g.match("x 1 y") == {"b": "x", "a": 1}


def test_a_literal_every_match_contains_is_found_for_the_prefilter() -> None:
    g = Grok(r"%{IPV4:ip} took %{INT:ms}ms")
    assert g.required == " took "
    assert g.search("10.0.0.1 tok 5ms") is None
    assert g.match("10.0.0.1 took 5ms") == {"ip": "10.0.0.1", "ms": "5"}


def test_the_repr_names_the_pattern_and_its_engine() -> None:
    assert repr(Grok("%{IPV4:ip}")) == "Grok('%{IPV4:ip}', engine='re')"
