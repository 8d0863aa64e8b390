"""Oniguruma as the oracle: Logstash-format pattern files using each Oniguruma construct
that Logstash's pattern files rely on, compiled by qframe and by the real Oniguruma
(``onigurumacffi``, the C library Logstash's Joni is a port of), searched on generated
inputs; qframe (both engines) must find the same match and the same captures.

The grok expansion on the Oniguruma side is done here, textually, as Logstash does it
(``%{NAME:field}`` → ``(?<field>…)``, ``%{NAME}`` → ``(?:…)``), independently of qframe's
compiler.  Logstash compiles with Ruby's MULTILINE option (``.`` matches a newline):
the oracle's expression starts with ``(?m)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qframe.grok import Grok, GrokError, PatternLibrary, parse_patterns

try:
    import onigurumacffi
except ImportError:  # pragma: no cover - a test dependency
    if os.environ.get("CI"):
        raise
    pytest.skip(
        "onigurumacffi is not installed (pip install -e '.[test]')", allow_module_level=True
    )

# (construct, pattern file, grok pattern, alphabet of the generated inputs)
CASES: list[tuple[str, str, str, str]] = [
    ("interval then + is not possessive", "AA a{2}+", r"(?<x>%{AA})\z", "ab"),
    ("range interval then +", "AB a{1,2}+b", "(?<x>%{AB})", "ab"),
    ("exact interval then ?", "AB (?:ab){2}?c", "(?<x>%{AB})", "abc"),
    ("lazy range interval", "L a{1,3}?", "(?<x>%{L})(?<y>a*)b", "ab"),
    ("open intervals", "O a{,2}b{2,}", "(?<x>%{O})", "ab{},"),
    ("literal braces", "BR a{,}b{}c{x}", "(?<x>%{BR})", "abcx{},"),
    ("nested repeat ?*", "N a?*b", "(?<x>%{N})", "ab"),
    ("nested repeat +?+", "N (?:ab)+?+c", "(?<x>%{N})", "abc"),
    ("nested repeat ** and +{2}", "N a**b+{2}", "(?<x>%{N})", "ab"),
    ("quantifier after %{NAME}", "AB [ab]\nN %{AB:x}{2}+c", "%{N}", "abc"),
    ("quantifier after %{NAME}, nested", "AB ab|c\nN %{AB}?*d", "(?<x>%{N})", "abcd"),
    ("possessive and atomic", "P a*+(?>b+)b?c", "(?<x>%{P})", "abc"),
    ("POSIX classes in a bracket", "W [[:alpha:]_]+[[:digit:]]", "(?<x>%{W})", "aZ_0é٣ -"),
    ("negated POSIX class", "W [[:^alpha:]]+", "(?<x>%{W})", "aZ0é٣ -"),
    ("negated bracket of POSIX classes", "W [^[:digit:][:space:]]+", "(?<x>%{W})", "a0 \t\n٣é"),
    (
        "POSIX punct, upper, xdigit",
        "W [[:punct:]][[:upper:]]+[[:xdigit:]]",
        "(?<x>%{W})",
        "$+.aAFg-É",
    ),
    (
        "POSIX space, blank, cntrl",
        "W [[:space:]][[:blank:]]+[[:cntrl:]]?",
        "(?<x>%{W})",
        " \t\n\x01\xa0a",
    ),
    (
        "POSIX alnum, lower, word, graph",
        "W [[:alnum:]][[:lower:]][[:word:]][[:graph:]]",
        "(?<x>%{W})",
        "aA0_ é-",
    ),
    ("nested class union", "U [a-c[x-z]]+", "(?<x>%{U})", "abcdxyz"),
    ("class intersection", "I [a-z&&[^aeiou]]+", "(?<x>%{I})", "abeiz0"),
    ("negated intersection", "I [^a-z&&b-d]+", "(?<x>%{I})", "abcdez0"),
    ("hex digit escapes", r"H \h+\H", "(?<x>%{H})", "09afAFgz-"),
    (
        "escapes \\e \\x{…} \\o{…} and a literal \\q",
        r"E \e\x{41}\o{102}\q",
        "(?<x>%{E})",
        "\x1bABqx",
    ),
    ("line break \\R and \\N", r"R a\Rb\N", "(?<x>%{R})", "ab\r\nx"),
    ("escaped specials in a bracket", r"B [\]\[\-\\^]+", "(?<x>%{B})", "][-\\^a"),
    ("anchors \\A \\z \\Z ^ $", r"A ^a$|\Ab|c\Z|d\z", "(?<x>%{A})", "abcd\n"),
    ("inline flag to the end of the group", "F a(?i)b|c", "(?<x>%{F})", "abcABC"),
    ("scoped flags", "F (?i:a)b(?i-m:c.)", "(?<x>%{F})", "aAbBcC\n"),
    ("dot matches a newline", "D a.b", "(?<x>%{D})", "ab\n"),
    ("back-reference by name", r"K (?<w>[ab]+)-\k<w>", "%{K}", "ab-"),
    ("quoted group name", "Q (?'w'[ab]+)c", "%{Q}", "abc"),
    ("look-behind and look-ahead", "L (?<![0-9])[a-c]+(?![0-9])", "(?<x>%{L})", "abc01"),
    ("look-behind of alternatives", "L (?<=ab|c)d", "(?<x>%{L})", "abcd"),
    ("word boundary", r"B \b\w+\b", "(?<x>%{B})", "ab é_-"),
    ("typed capture of a unit", "I [0-9]+", "%{I:n}", "0123a"),
]


def expand(pattern: str, lib: dict[str, str]) -> str:
    """Logstash's textual grok expansion (for the oracle side only)."""
    ref = re.compile(r"%\{(\w+)(?::([\w\[\].@-]+))?(?::\w+)?\}")
    for _ in range(50):
        new = ref.sub(
            lambda m: (
                f"(?<{m.group(2)}>{lib[m.group(1)]})" if m.group(2) else f"(?:{lib[m.group(1)]})"
            ),
            pattern,
        )
        if new == pattern:
            return pattern
        pattern = new
    raise AssertionError("recursive pattern")


def oracle_groups(m: object, n: int) -> tuple[str, ...]:
    return tuple(m.group(k + 1) for k in range(n))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("what", "file_text", "pattern", "alphabet"), CASES, ids=[c[0] for c in CASES]
)
def test_qframe_agrees_with_oniguruma(
    what: str, file_text: str, pattern: str, alphabet: str, tmp_path: Path
) -> None:
    (tmp_path / "constructs").write_text(file_text + "\n")
    lib = PatternLibrary(builtin=False)
    lib.add_dir(tmp_path)
    grok = Grok(pattern, lib)
    onig = onigurumacffi.compile("(?m)" + expand(pattern, parse_patterns(file_text)))
    assert onig.number_of_captures() == len(grok.captures), what
    engines = [e for e in (grok.fast, grok.slow) if e is not None]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(alphabet=alphabet, max_size=14))
    def check(text: str) -> None:
        want = onig.search(text)
        for engine in engines:
            got = engine.search(text)
            assert (got is None) == (want is None), (what, text, engine)
            if want is None:
                continue
            assert got.span() == want.span(), (what, text, engine)
            groups = tuple(g or "" for g in got.groups())
            assert groups == oracle_groups(want, len(grok.captures)), (what, text, engine)

    check()


@pytest.mark.parametrize(
    ("regex", "construct"),
    [
        (r"a\Kb", r"\K"),
        (r"(?<n>a)\g<n>", r"\g<n>"),
        (r"(?<n>a)\1", r"\1"),
        (r"(?~abc)", "absent operator"),
        (r"(?<n>a)(?(<n>)b|c)", "conditional"),
        (r"\X", "grapheme"),
        ("[[:nope:]]", "POSIX bracket type"),
        ("[a-\\w]", "range"),
        ("*a", "target of repeat"),
        ("[ab", "premature end"),
    ],
)
def test_an_untranslatable_construct_is_an_error_naming_pattern_and_construct(
    regex: str, construct: str
) -> None:
    lib = PatternLibrary({"MYPAT": regex}, builtin=False)
    with pytest.raises(GrokError) as exc:
        Grok("%{MYPAT:x}", lib)
    assert "MYPAT" in str(exc.value)
    assert construct in str(exc.value)


def test_the_issue_example_interval_plus_captures_like_ruby() -> None:
    assert Grok(r"(?<x>a{2}+)\z", PatternLibrary(builtin=False)).match("aaaa") == {"x": "aaaa"}
