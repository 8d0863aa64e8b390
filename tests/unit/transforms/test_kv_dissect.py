"""kv (and logfmt) and dissect: examples, failures and round-trip properties."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.plugins.filters.dissect import DissectError, Dissector
from qframe.plugins.filters.kv import KvFilter
from qframe.telemetry import PluginMetrics
from qframe.testing import make_registry

from .helpers import run_filter

APACHE = '10.0.0.1 - frank [26/Nov/2026:05:00:01 +0000] "GET /a?b=1 HTTP/1.1" 200 512'
APACHE_MAP = '%{clientip} %{ident} %{auth} [%{ts}] "%{verb} %{request} HTTP/%{httpversion}" %{status} %{bytes}'


async def test_kv_pairs_with_quotes_prefix_and_key_filters() -> None:
    line = "a=1 b=\"two words\" c='x y' d= junk e=5"
    (m,), _ = await run_filter("kv", {"prefix": "kv_", "exclude-keys": ["e"]}, [line])
    assert m.fields == {"kv_a": "1", "kv_b": "two words", "kv_c": "x y", "kv_d": ""}
    (m,), _ = await run_filter("kv", {"include-keys": ["a", "e"], "target": "fields.p"}, [line])
    assert m.fields == {"p": {"a": "1", "e": "5"}}


async def test_kv_split_characters_and_logfmt() -> None:
    (m,), _ = await run_filter("kv", {"field-split": "&;", "value-split": ":"}, ["a:1&b:2;c:3"])
    assert m.fields == {"a": "1", "b": "2", "c": "3"}
    line = 'level=info msg="user \\"ann\\" in" dur=1.5ms cached'
    (m,), _ = await run_filter("kv", {"mode": "logfmt"}, [line])
    assert m.fields == {"level": "info", "msg": 'user "ann" in', "dur": "1.5ms", "cached": True}


async def test_kv_without_pairs_fails() -> None:
    (m, ok), h = await run_filter("kv", {}, ["no pairs here", "x=1"])
    assert m.tags == ["_kvparsefailure"] and m.source_success is False
    assert ok.fields == {"x": "1"} and h.plugin("f").metrics.counter("failed") == 1


def test_kv_split_sets_must_differ() -> None:
    text = "collector:\n  s: {kind: list}\nfilter:\n  k: {kind: kv, inputs: s, field-split: ' =', value-split: '='}\n"
    with pytest.raises(ConfigError, match="share a character"):
        parse_config(text, make_registry(), "p.yml")


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789.-", min_size=1, max_size=8)
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


def logfmt(d: dict[str, str]) -> str:
    out = []
    for k, v in d.items():
        if v and all(c not in v for c in " \"'\\=") and v.isprintable():
            out.append(f"{k}={v}")
        else:
            esc = (
                v.replace("\\", "\\\\")
                .replace('"', '\\"')
                .replace("\n", "\\n")
                .replace("\t", "\\t")
                .replace("\r", "\\r")
            )
            out.append(f'{k}="{esc}"')
    return " ".join(out)


@given(st.dictionaries(_keys, _values, max_size=6))
@settings(max_examples=300, deadline=None)
def test_logfmt_round_trip(d: dict[str, str]) -> None:
    f = kv_filter(mode="logfmt")
    assert f.pairs(logfmt(d)) == d
    assert f._regex_pairs(logfmt(d)) == d


def kv_filter(**options: Any) -> KvFilter:
    opts = KvFilter.Options.model_validate(options)
    node = SimpleNamespace(metrics=PluginMetrics("k", "kv", "filter", KvFilter.metric_specs()))
    return KvFilter("k", opts, node)  # type: ignore[arg-type]


_soup = st.text(alphabet=" =ab\"'", max_size=20) | st.text(alphabet=' =ab"', max_size=24)
_OPTIONS = st.sampled_from(
    [
        {},
        {"prefix": "p_"},
        {"include-keys": ["a", "b"]},
        {"exclude-keys": ["a"]},
        {"include-keys": ["ab", "b"], "exclude-keys": ["b"], "prefix": "x"},
    ]
)


@given(_soup, st.booleans(), _OPTIONS)
@settings(max_examples=800, deadline=None)
def test_kv_fast_paths_agree_with_the_regex(s: str, lf: bool, options: dict[str, Any]) -> None:
    """The split paths (unquoted text, and double-quoted values cut at the quotes) give
    what the regex gives, with and without key selection and prefix."""
    f = kv_filter(mode="logfmt" if lf else "kv", **options)
    assert f.pairs(s) == f._regex_pairs(s)
    if "'" not in s and '"' in s:
        got = f._quoted_pairs(s)
        assert got is None or got == f._regex_pairs(s)


@pytest.mark.parametrize(
    "line",
    [
        'a="x y" b=1',
        'a="" b="="',
        'a="x"b=1',  # text right after a closing quote: the regex decides
        'a=b="x" c=1',  # a quote inside a bare value
        'x"y="z" q=1',
        '"k"=v a=1',
        'a="open',
        'a="x" "y" b=2',
        'a="x\\" y" b=2',  # an escaped quote: the regex
    ],
)
@pytest.mark.parametrize("lf", [False, True])
async def test_kv_quoted_values_as_the_regex_reads_them(line: str, lf: bool) -> None:
    f = kv_filter(mode="logfmt" if lf else "kv")
    want = f._regex_pairs(line)
    assert f.pairs(line) == want
    out, _ = await run_filter("kv", {"mode": "logfmt" if lf else "kv"}, [line, line])
    assert [m.fields for m in out] == [want, want]
    assert [m.source_success for m in out] == [bool(want)] * 2


async def test_kv_a_batch_with_some_lines_without_pairs_or_with_fields() -> None:
    lines = ['a=1 b="x y"', "nothing", "c=3"]
    out, h = await run_filter("kv", {}, lines)
    assert [m.fields for m in out] == [{"a": "1", "b": "x y"}, {}, {"c": "3"}]
    assert [m.source_success for m in out] == [True, False, True]
    assert out[1].tags == ["_kvparsefailure"]
    assert h.plugin("f").metrics.counter("parsed") == 2
    assert h.plugin("f").metrics.counter("failed") == 1


async def test_dissect_the_apache_line_with_conversion() -> None:
    (m,), h = await run_filter(
        "dissect", {"mapping": APACHE_MAP, "convert-datatype": {"bytes": "int"}}, [APACHE]
    )
    assert m.fields == {
        "clientip": "10.0.0.1", "ident": "-", "auth": "frank", "ts": "26/Nov/2026:05:00:01 +0000",
        "verb": "GET", "request": "/a?b=1", "httpversion": "1.1", "status": "200", "bytes": 512,
    }  # fmt: skip
    assert m.source_success is True and h.plugin("f").metrics.counter("matched") == 1


async def test_dissect_no_match_is_tagged() -> None:
    (m,), _ = await run_filter("dissect", {"mapping": "[%{a}] %{b}"}, ["no brackets"])
    assert m.tags == ["_dissectfailure"] and m.source_success is False and not m.fields


def test_dissect_modifiers() -> None:
    d = Dissector("%{a->} %{b} %{+b} %{?skip} %{*k} %{&k} %{+c/2} %{+c/1} %{}-%{rest}")
    got = d.dissect("x     y z skipped key val two one ignored-the rest")
    assert got == {"a": "x", "b": "y z", "key": "val", "c": "one two", "rest": "the rest"}
    assert Dissector("<%{pri}>%{msg}").dissect("<13>hello") == {"pri": "13", "msg": "hello"}
    assert Dissector("<%{pri}>%{msg}").dissect("13>hello") is None


@pytest.mark.parametrize("bad", ["no fields", "%{a}%{b}", "%{*k} %{v}", "%{a/2}", "%{+}"])
def test_dissect_bad_mappings(bad: str) -> None:
    with pytest.raises(DissectError):
        Dissector(bad)


_parts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="|"), max_size=10
)


@given(st.lists(_parts, min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_dissect_round_trip(values: list[str]) -> None:
    mapping = "|".join(f"%{{f{i}}}" for i in range(len(values)))
    assert Dissector(mapping).dissect("|".join(values)) == {
        f"f{i}": v for i, v in enumerate(values)
    }


@given(st.text(max_size=40), st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_dissect_never_raises(mapping_tail: str, line: str) -> None:
    try:
        d = Dissector("%{a} " + mapping_tail)
    except DissectError:
        return
    got: Any = d.dissect(line)
    assert got is None or isinstance(got, dict)


_PIECES = st.sampled_from(["a", "b", " ", "  ", "[", "]", '"', "ab", "é", "\n"])


@given(
    prefix=st.lists(_PIECES, max_size=2).map("".join),
    delims=st.lists(st.lists(_PIECES, min_size=1, max_size=2).map("".join), max_size=4),
    names=st.lists(st.sampled_from(["x", "y", "z"]), min_size=5, max_size=5),
    tail=st.lists(_PIECES, max_size=2).map("".join),
    line=st.lists(_PIECES, max_size=12).map("".join),
)
@settings(max_examples=400, deadline=None)
def test_the_generated_dissect_agrees_with_the_loop(
    prefix: str, delims: list[str], names: list[str], tail: str, line: str
) -> None:
    """The generated function of a plain mapping (str.partition per field) gives what
    the reference loop (str.find and slices) gives, on lines that match and those that do
    not: prefixes, repeated and multi-character delimiters, a trailing literal, a repeated
    name (the last one wins)."""
    mapping = prefix + "".join(f"%{{{n}}}{d}" for n, d in zip(names, delims, strict=False))
    mapping += f"%{{{names[len(delims)]}}}" + tail
    d = Dissector(mapping)
    assert d.simple
    assert d.dissect(line) == d._simple(line)
    assert d.dissect(prefix + line) == d._simple(prefix + line)


async def test_a_batch_where_some_lines_do_not_match_is_dissected_as_one_by_one() -> None:
    lines = [APACHE, "no match", APACHE.replace("frank", "anna"), ""]
    out, h = await run_filter("dissect", {"mapping": APACHE_MAP}, lines)
    assert [m.source_success for m in out] == [True, False, True, False]
    assert out[0].fields["auth"] == "frank" and out[2].fields["auth"] == "anna"
    assert out[1].tags == ["_dissectfailure"] and not out[1].fields
    assert h.plugin("f").metrics.counter("matched") == 2
    assert h.plugin("f").metrics.counter("unmatched") == 2
    out, h = await run_filter("dissect", {"mapping": APACHE_MAP}, [APACHE, APACHE])
    assert [m.fields["status"] for m in out] == ["200", "200"]
    assert h.plugin("f").metrics.counter("matched") == 2


_SPECS = st.sampled_from(
    ["x", "y", "", "?s", "+x", "+x/2", "+x/1", "+y/3", "*k", "&k", "x->", "?s->", "+y->", "*k->"]
)


@given(
    prefix=st.lists(_PIECES, max_size=2).map("".join),
    specs=st.lists(_SPECS, min_size=1, max_size=6),
    delims=st.lists(st.lists(_PIECES, min_size=1, max_size=2).map("".join), min_size=6),
    tail=st.lists(_PIECES, max_size=2).map("".join),
    values=st.lists(st.lists(_PIECES, max_size=3).map("".join), min_size=6, max_size=6),
    line=st.lists(_PIECES, max_size=12).map("".join),
)
@settings(max_examples=600, deadline=None)
def test_the_generated_dissect_agrees_with_the_loop_for_every_modifier(
    prefix: str,
    specs: list[str],
    delims: list[str],
    tail: str,
    values: list[str],
    line: str,
) -> None:
    """The generated function of any mapping — skipped fields, appends in their order,
    indirect fields, ``->`` padding — gives what the general loop gives (values and the
    order of the keys), on lines that match (made from the mapping) and those that do not."""
    parts = [
        f"%{{{spec}}}" + (d if i < len(specs) - 1 else tail)
        for i, (spec, d) in enumerate(zip(specs, delims, strict=False))
    ]
    mapping = prefix + "".join(parts)
    try:
        d = Dissector(mapping)
    except DissectError:
        return
    made = prefix + "".join(
        v + (dl if i < len(specs) - 1 else tail)
        for i, (v, dl) in enumerate(zip(values, delims, strict=False))
        if i < len(specs)
    )
    for text in (line, prefix + line, made, made.replace(" ", "   ")):
        want = d._general(text)
        got = d.dissect(text)
        assert got == want
        assert got is None or list(got) == list(want)  # the same order of keys
