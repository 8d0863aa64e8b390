"""date, mutate and drop."""

from __future__ import annotations

import asyncio
import copy
import time
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.message import Message, SharedFields
from qframe.telemetry import PluginMetrics
from qframe.testing import make_registry
from qframe.timeparse import DateParser, FormatError

from .helpers import run_filter

T = 1795669201.0  # 2026-11-26T05:00:01Z


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("dd/MMM/yyyy:HH:mm:ss Z", "26/Nov/2026:05:00:01 +0000", T),
        ("dd/MMM/yyyy:HH:mm:ss Z", "26/Nov/2026:06:00:01 +0100", T),
        ("%d/%b/%Y:%H:%M:%S %z", "26/Nov/2026:05:00:01 -00:00", T),
        ("ISO8601", "2026-11-26T05:00:01Z", T),
        ("ISO8601", "2026-11-26T05:00:01.250+00:00", T + 0.25),
        ("ISO8601", "2026-11-26 05:00:01", T),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "2026-11-26T05:00:01.500+00:00", T + 0.5),
        ("UNIX", "1795669201", T),
        ("UNIX_MS", "1795669201000", T),
        ("TAI64N", "@400000006b07bcdb00000000", T),
        ("EEE MMM dd HH:mm:ss yyyy", "Thu Nov 26 05:00:01 2026", T),
        ("MM/dd/yy hh:mm:ss a", "11/26/26 05:00:01 AM", T),
        ("%Y-%m-%dT%H:%M:%S.%f%z", "2026-11-26T05:00:01.000001+0000", T + 0.000001),
        ("%s", "1795669201", T),
    ],
)
def test_formats(fmt: str, text: str, expected: float) -> None:
    assert DateParser([fmt]).parse(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("dd/MMM/yyyy:HH:mm:ss Z", "32/Nov/2026:05:00:01 +0000"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "26/Foo/2026:05:00:01 +0000"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "26/Nov/2026:05:61:01 +0000"),
        ("ISO8601", "not a date"),
        ("UNIX", "nan"),
        ("TAI64N", "@zz"),
        ("ISO8601", "2026-13-01T00:00:00Z"),
    ],
)
def test_what_does_not_match(fmt: str, text: str) -> None:
    assert DateParser([fmt]).parse(text) is None


def test_timezone_locale_and_the_year_turn() -> None:
    berlin = DateParser(["yyyy-MM-dd HH:mm:ss"], tz="Europe/Berlin")
    assert berlin.parse("2026-11-26 06:00:01") == T  # CET, +01:00
    assert berlin.parse("2026-07-01 02:00:00") == 1782864000.0  # CEST, +02:00
    assert (
        DateParser(["dd MMMM yyyy HH:mm:ss"], locale="de").parse("26 November 2026 05:00:01") == T
    )
    assert DateParser(["dd MMM yyyy HH:mm:ss"], locale="fr").parse("26 nov. 2026 05:00:01") == T
    jan4 = 1767484800.0  # 2026-01-04
    syslog = DateParser(["MMM dd HH:mm:ss", "MMM  d HH:mm:ss"], now=lambda: jan4)
    assert time.gmtime(syslog.parse("Dec 31 23:59:59")).tm_year == 2025
    assert time.gmtime(syslog.parse("Jan  3 00:00:01")).tm_year == 2026
    dec30 = 1798588800.0  # 2026-12-30
    assert (
        time.gmtime(
            DateParser(["MMM dd HH:mm:ss"], now=lambda: dec30).parse("Jan 01 00:00:01")
        ).tm_year
        == 2027
    )


@pytest.mark.parametrize(
    ("formats", "tz", "locale"),
    [
        (["qqq"], "UTC", "en"),
        (["%Q"], "UTC", "en"),
        (["ISO8601"], "Mars/Base", "en"),
        (["ISO8601"], "UTC", "xx"),
    ],
)
def test_bad_formats_are_errors(formats: list[str], tz: str, locale: str) -> None:
    with pytest.raises(FormatError):
        DateParser(formats, tz, locale)


async def test_the_date_filter_sets_the_time_or_a_target_and_tags_failures() -> None:
    msgs = [
        {"message": "a", "fields": {"ts": "26/Nov/2026:05:00:01 +0000"}},
        {"message": "b", "fields": {"ts": "garbage"}},
        {"message": "c"},
    ]
    (a, b, c), h = await run_filter(
        "date", {"field": "ts", "formats": ["ISO8601", "dd/MMM/yyyy:HH:mm:ss Z"]}, msgs
    )
    assert a.time == T and a.tags == []
    assert b.tags == ["_dateparsefailure"] and c.tags == ["_dateparsefailure"]
    assert b.source_success is True
    assert h.plugin("f").metrics.counter("failed") == 2
    (a,), _ = await run_filter(
        "date",
        {
            "field": "fields.ts",
            "formats": "dd/MMM/yyyy:HH:mm:ss Z",
            "target": "fields.when",
            "remove-field": True,
        },
        msgs[:1],
    )
    assert a.fields == {"when": "2026-11-26T05:00:01.000000Z"}


def test_a_bad_date_option_is_a_config_error() -> None:
    text = "collector:\n  s: {kind: list}\nfilter:\n  d: {kind: date, inputs: s, formats: [ISO8601, 'yyyy-qq']}\n"
    with pytest.raises(ConfigError, match=r"filter\.d"):
        parse_config(text, make_registry(), "p.yml")


async def test_mutate_in_its_documented_order() -> None:
    msg = {
        "message": "orig",
        "host": "h1",
        "tags": ["old", "keep"],
        "labels": {"team": "a"},
        "fields": {"msg": "Hello", "n": "42", "f": "2.5", "ok": "yes", "csv": "a,b,c", "name": "  Ann  ", "path": "/a/b", "arr": [1], "big": "1e30", "list": ["1", "2"]},
    }  # fmt: skip
    opts = {
        "rename": {"fields.msg": "message", "labels.team": "labels.squad"},
        "copy": {"fields.n": "fields.n_text"},
        "convert": {"fields.n": "int", "f": "float", "ok": "bool", "list": "int", "big": "int"},
        "gsub": [["fields.path", "/", "_"]],
        "lowercase": ["message"],
        "strip": ["fields.name"],
        "split": {"fields.csv": ","},
        "join": {"fields.list": "+"},
        "merge": {"fields.arr": "fields.n"},
        "add-fields": {"fields.who": "%{fields.name}@%{host} %{fields.nope}", "fields.const": 7},
        "add-tags": ["app", "n-%{fields.n}"],
        "remove": ["fields.ok"],
        "remove-tags": ["old"],
    }
    (m,), h = await run_filter("mutate", opts, [msg])
    assert m.message == "hello"
    assert m.labels == {"squad": "a"}
    f = m.fields
    assert f["n"] == 42 and f["n_text"] == "42" and f["f"] == 2.5 and "ok" not in f
    assert f["path"] == "_a_b" and f["name"] == "Ann" and f["csv"] == ["a", "b", "c"]
    assert f["list"] == "1+2" and f["arr"] == [1, 42]
    assert f["who"] == "Ann@h1 %{fields.nope}" and f["const"] == 7
    assert f["big"] == "1e30"  # beyond 64 bits: kept, tagged
    assert m.tags == ["keep", "app", "n-42", "_mutatefailure"]
    assert h.plugin("f").metrics.counter("failed") == 1


def test_mutate_refuses_read_only_and_bad_paths() -> None:
    for opt in (
        "{rename: {container.name: x}}",
        "{remove: ['a..b']}",
        "{gsub: [[message, '(', x]]}",
    ):
        text = f"collector:\n  s: {{kind: list}}\nfilter:\n  m: {{kind: mutate, inputs: s, {opt[1:-1]}}}\n"
        with pytest.raises(ConfigError, match=r"filter\.m"):
            parse_config(text, make_registry(), "p.yml")


async def test_drop_all_or_one_in_n() -> None:
    out, h = await run_filter("drop", {}, ["a", "b"])
    assert out == [] and h.plugin("f").metrics.dropped == {"filtered": 2}
    out, _ = await run_filter("drop", {"keep-one-in": 3}, [str(i) for i in range(7)])
    assert [m.message for m in out] == ["0", "3", "6"]
    out, _ = await run_filter("drop", {"when": 'message == "b"'}, ["a", "b", "c"])
    assert [m.message for m in out] == ["a", "c"]


_MUTATE_CONFIGS = [
    {"rename": {"fields.a": "fields.b"}, "convert": {"fields.n": "int"}, "add-tags": ["web"]},
    {"rename": {"a": "n"}, "convert": {"n": "float"}, "lowercase": ["a"], "add-tags": ["x", "x"]},
    {"convert": {"fields.n": "bool", "fields.a": "int"}, "strip": ["fields.a"], "uppercase": ["b"]},
    {"rename": {"fields.n": "message"}, "add-tags": ["t-%{fields.a}"], "remove-tags": ["old"]},
    {"copy": {"fields.a": "fields.c"}, "convert": {"fields.c": "string"}, "remove": ["fields.a"]},
]
_VALUES = st.one_of(
    st.sampled_from(["1", " 2 ", "x", "true", "no", "1.5", "", "A b"]),
    st.integers(-5, 5),
    st.lists(st.sampled_from(["1", "x", "on"]), max_size=3),
    st.none(),
)
_MESSAGE = st.tuples(
    st.dictionaries(st.sampled_from(["a", "b", "n"]), _VALUES, max_size=3),
    st.sampled_from(["own", "shared", "none"]),
    st.sampled_from([None, [], ["old"], ["web", "old"]]),
)


@given(st.sampled_from(range(len(_MUTATE_CONFIGS))), st.lists(_MESSAGE, max_size=6))
@settings(max_examples=400, deadline=None)
def test_mutate_over_the_batch_agrees_with_message_by_message(config: int, rows: list) -> None:
    """process (each step over the whole batch, batch versions of the usual steps) gives
    what process_each (every step a call per message, the reference) gives: fields that
    are a message's own, shared (SharedFields) or none, tags or none, values that do and
    do not convert."""
    cls = make_registry().get("filter", "mutate")
    assert cls is not None
    opts = cls.Options.model_validate(_MUTATE_CONFIGS[config])
    node = SimpleNamespace(metrics=PluginMetrics("m", "mutate", "filter", cls.metric_specs()))
    f: Any = cls("m", opts, node)

    def batch() -> list[Message]:
        out = []
        shared = SharedFields(a="1", n="2")
        for fields, kind, tags in rows:
            m = Message("text", 1.0)
            if kind == "own":
                m._fields = copy.deepcopy(fields)
            elif kind == "shared":
                m._fields = shared
            m._tags = list(tags) if tags is not None else None
            out.append(m)
        return out

    got, want = batch(), batch()
    asyncio.run(f.process(got))
    f.process_each(want)
    assert [m.to_dict() for m in got] == [m.to_dict() for m in want]
    assert [m.to_dict() for m in batch()] == [m.to_dict() for m in batch()]  # nothing shared
