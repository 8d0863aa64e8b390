"""The json filter: decoding, promotion, failures and hostile input."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.message import Message
from qframe.plugins.filters.jsondecode import JsonFilter, to_epoch, to_severity
from qframe.telemetry import PluginMetrics
from qframe.testing import make_registry

from .helpers import run_filter


async def test_an_object_is_merged_into_fields_and_the_message_kept() -> None:
    line = '{"a": 1, "b": {"c": [1, 2]}, "s": "x"}'
    (m,), h = await run_filter("json", {}, [line])
    assert m.fields == {"a": 1, "b": {"c": [1, 2]}, "s": "x"}
    assert m.message == line and m.source_success is True and m.tags == []
    assert h.plugin("f").metrics.counter("parsed") == 1


async def test_promote_sets_message_level_and_time() -> None:
    lines = [
        json.dumps({"msg": "db down", "level": "error", "ts": 1795669200.5, "db": "orders"}),
        json.dumps({"message": "pino", "level": 40, "time": 1795669200123}),
        json.dumps({"message": "iso", "severity": "WARNING", "@timestamp": "2026-11-26T05:00:00Z"}),
        json.dumps({"message": "odd", "level": "chatty", "time": "yesterday"}),
    ]
    (a, b, c, d), _ = await run_filter("json", {"promote": True}, lines)
    assert (a.message, a.level, a.time, a.fields) == ("db down", 3, 1795669200.5, {"db": "orders"})
    assert (b.message, b.level, b.time) == ("pino", 4, 1795669200.123)
    assert (c.level, c.time) == (4, 1795669200.0)
    assert d.message == "odd" and d.fields == {"level": "chatty", "time": "yesterday"}


async def test_target_and_another_field() -> None:
    msgs = [{"message": "x", "fields": {"payload": '[1, 2, {"k": "v"}]'}}]
    (m,), _ = await run_filter("json", {"field": "payload", "target": "fields.body"}, msgs)
    assert m.fields["body"] == [1, 2, {"k": "v"}]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "not_object"),
        ('{"a": ' + "[" * 200 + "]" * 200 + "}", "too_deep"),
        ('{"big": "' + "x" * 2000 + '"}', "too_large"),
        ('{"a": "\udcff"', "invalid"),
        ('{"truncated": ', "invalid"),
    ],
)
async def test_failures_are_tagged_and_forwarded_unchanged(line: str, reason: str) -> None:
    (m, ok), h = await run_filter("json", {"max-bytes": 1000}, [line, '{"ok": 1}'])
    assert ok.fields == {"ok": 1} and ok.source_success is True
    assert m.message == line and m.source_success is False
    assert m.tags == ["_jsonparsefailure"] and not m.fields
    assert h.plugin("f").metrics.counter("failed", reason=reason) == 1


async def test_a_huge_key_and_invalid_utf8_text_do_not_crash() -> None:
    huge = json.dumps({"k" * 100_000: 1})
    broken = b'{"a": "\xff\xfe"}'.decode("utf-8", "replace")
    out, _ = await run_filter("json", {}, [huge, broken])
    assert out[0].fields == {"k" * 100_000: 1}
    assert out[1].fields == {"a": "\ufffd\ufffd"}


async def test_on_error_drop_drops_and_counts() -> None:
    out, h = await run_filter("json", {"on-error": "drop"}, ["nope", '{"a": 1}'])
    assert [m.fields for m in out] == [{"a": 1}]
    assert h.plugin("f").metrics.dropped == {"json_failure": 1}


def test_levels_and_times() -> None:
    assert [to_severity(x) for x in ("info", "ERR", 3, 30, 60, "7", 99, None)] == [
        6,
        3,
        3,
        6,
        2,
        7,
        None,
        None,
    ]
    assert to_epoch(1795669200123456) == pytest.approx(1795669200.123456)
    assert to_epoch("1795669200") == 1795669200.0
    assert to_epoch(float("nan")) is None


def test_max_depth_is_bounded_below_what_encoding_takes() -> None:
    text = "collector:\n  s: {kind: list}\nfilter:\n  j: {kind: json, inputs: s, max-depth: 500}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, make_registry(), "p.yml")
    assert "filter.j.max-depth" in str(e.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
_TEXTS = (
    st.dictionaries(st.text(max_size=5), _JSON, max_size=4).map(json.dumps)
    | _JSON.map(json.dumps)
    | st.text(max_size=20)
    | st.sampled_from(['{"a": ' + "[" * 70 + "]" * 70 + "}", '{"a": "' + "[{" * 40 + '"}', "{}"])
)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(_TEXTS, max_size=8),
    with_fields=st.lists(st.booleans(), max_size=8),
    depth=st.sampled_from([64, 3]),
)
def test_a_batch_at_once_is_what_message_by_message_makes(
    texts: list[str], with_fields: list[bool], depth: int
) -> None:
    """The C-loop path of a whole batch changes messages exactly as the path that takes
    them one by one (which it leaves the batch to whenever one message is not usual)."""
    opts = JsonFilter.Options.model_validate({"max-depth": depth, "max-bytes": 300})
    node = SimpleNamespace(metrics=PluginMetrics("f", "json", "filter", JsonFilter.metric_specs()))
    f = JsonFilter("f", opts, node)

    def batch() -> list[Message]:
        out = [Message(t, 1.0) for t in texts]
        for m, w in zip(out, with_fields, strict=False):
            if w:
                m.fields["path"] = "/x"
        return out

    a, b = batch(), batch()
    out_a = asyncio.run(f.process(a))
    parsed_a = node.metrics.counter("parsed")
    out_b = f._each(b)
    assert [m.to_dict() for m in out_a] == [m.to_dict() for m in out_b]
    assert node.metrics.counter("parsed") == 2 * parsed_a
