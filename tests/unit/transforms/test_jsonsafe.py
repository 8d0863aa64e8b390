"""Bounded JSON decoding and lossy encoding (qframe.jsonsafe)."""

from __future__ import annotations

import json

import orjson
import pytest

from qframe.jsonsafe import MAX_DEPTH, TooDeep, depth_exceeds, dumps_lossy, loads_bounded


def nested(n: int) -> str:
    return "[" * n + "]" * n


def test_nesting_up_to_the_limit_decodes_and_past_it_is_refused() -> None:
    assert loads_bounded(nested(MAX_DEPTH)) is not None
    with pytest.raises(TooDeep):
        loads_bounded(nested(MAX_DEPTH + 1))
    with pytest.raises(ValueError):
        loads_bounded(nested(300).encode())
    # many brackets side by side are not depth
    wide = "[" + ",".join(["{}"] * 500) + "]"
    assert len(loads_bounded(wide)) == 500


def test_what_decodes_always_encodes() -> None:
    obj = loads_bounded('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH)
    assert orjson.loads(orjson.dumps(obj)) == obj


def test_depth_exceeds_counts_levels() -> None:
    assert not depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert depth_exceeds({"a": [1, {"b": {}}]}, 3)
    assert not depth_exceeds("text", 0)


def test_dumps_lossy_writes_what_orjson_refuses_as_text() -> None:
    deep: object = "x"
    for _ in range(400):
        deep = {"k": deep}
    bad = {"big": 2**70, "s": "a\ud800b", "deep": deep, "ok": [1, 2.5, None, True]}
    got = json.loads(dumps_lossy(bad))
    assert got["big"] == str(2**70)
    assert got["s"].startswith("a") and got["s"].endswith("b")
    assert got["ok"] == [1, 2.5, None, True]
    assert "<too deep>" in json.dumps(got["deep"])
    assert dumps_lossy({"a": 1}) == b'{"a":1}'
