"""What crosses to a filter's workers (qframe.runtime.workwire), without processes: a batch
encoded, decoded as a worker does, changed by a "filter", its result applied to the original
messages — the changes arrive, the objects and delivery tokens stay the main process's."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.batch import json_lines, new_logs
from qframe.condition import compile_condition
from qframe.message import ContainerInfo, Delivery, Message, Metric, SharedFields, fields_of
from qframe.paths import parse_path
from qframe.runtime.workwire import (
    apply_result,
    decode_batch,
    decode_reply,
    decode_texts,
    encode_batch,
    encode_reply,
    encode_result,
    encode_texts,
    encode_texts_reply,
)


def roundtrip(batch: list[Message], change) -> tuple[list[Message], list[Message]]:  # type: ignore[no-untyped-def]
    inp, cols = decode_batch(encode_batch(batch))
    out = change(list(inp))
    return apply_result(batch, decode_reply(encode_reply(encode_result(inp, cols, out))))


def test_a_read_changed_in_place_comes_back_as_columns_on_the_same_objects() -> None:
    token = Delivery(3, None)
    batch = new_logs(["a", "b", "c"], 1.5, "h", "stdin")
    for m in batch:
        m.ack = token
    before = list(batch)

    def change(ms: list[Message]) -> list[Message]:
        ms[0].fields["x"] = 1
        ms[1].source_success = False
        ms[1].add_tag("_grokparsefailure")
        ms[2].message = "C"
        ms[2].level = 3
        ms[2].labels["k"] = "v"
        ms[2].container = ContainerInfo(id="abc", name="web")
        ms[2].metric = Metric("m", {"v": 2})
        return ms

    out, dropped = roundtrip(batch, change)
    assert dropped == [] and all(a is b for a, b in zip(out, before, strict=True))
    assert [m.fields for m in out] == [{"x": 1}, {}, {}]
    assert [m.source_success for m in out] == [True, False, True]
    assert [m.tags for m in out] == [[], ["_grokparsefailure"], []]
    assert (out[2].message, out[2].level, out[2].labels) == ("C", 3, {"k": "v"})
    assert out[2].container is not None and out[2].container.name == "web"
    assert out[2].metric is not None and out[2].metric.fields == {"v": 2}
    assert all(m.ack is token for m in out) and [m.time for m in out] == [1.5] * 3


def test_shared_fields_and_containers_keep_their_meaning_and_identity() -> None:
    c = ContainerInfo(id="c1", name="db")
    ms = [Message(t, 1.0, fields={"n": i}, container=c) for i, t in enumerate("xyz")]
    ms[1].time = 2.0

    def change(inp: list[Message]) -> list[Message]:
        inp[0].fields["n"] = 10
        return inp

    out, _ = roundtrip(ms, change)
    assert [m.fields["n"] for m in out] == [10, 1, 2]
    assert all(m.container is c for m in out)  # unchanged: the main process's own object
    assert [m.time for m in out] == [1.0, 2.0, 1.0]


def test_drops_and_copies_map_back_to_their_inputs_tokens() -> None:
    done: list[int] = []
    token = Delivery(3, lambda: done.append(1))
    batch = [Message(t, 1.0, ack=token) for t in ("keep", "drop", "two")]

    def change(ms: list[Message]) -> list[Message]:
        copy = ms[2].copy()
        copy.message = "two-b"
        return [ms[0], ms[2], copy, Message("new", 1.0)]

    out, dropped = roundtrip(batch, change)
    assert [m.message for m in out] == ["keep", "two", "two-b", "new"]
    assert out[0] is batch[0] and out[1] is batch[2]
    assert dropped == [batch[1]]
    assert out[2].ack is token and out[3].ack is None
    assert token.pending == 4  # 3 + the copy
    for m in [*out[:3], *dropped]:
        m.ack.done()  # type: ignore[union-attr]
    assert done == [1]


def test_what_json_cannot_carry_crosses_as_a_pickle() -> None:
    batch = [Message("a", 1.0, fields={"big": 2**70, 3: "int key"})]
    data = encode_batch(batch)
    assert data[:1] == b"P"
    out, _ = roundtrip(batch, lambda ms: ms)
    assert out[0].fields == {"big": 2**70, 3: "int key"}


# -- fields carried back as their JSON (decoded only when read) ---------------------------

fields_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(st.text(alphabet='ab\x7f"\\.', max_size=3), kids, max_size=3)
    ),
    max_leaves=8,
)
fields_dicts = st.dictionaries(
    st.text(alphabet='abc\x7f\n"é', max_size=4), fields_values, max_size=5
)


def grok_like(fields: list[dict[str, Any]]) -> Callable[[list[Message]], list[Message]]:
    """A filter that gives each message new fields (a parser's output)."""

    def change(ms: list[Message]) -> list[Message]:
        for m, f in zip(ms, fields, strict=True):
            m.fields.update(copy.deepcopy(f))
        return ms

    return change


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), fields_dicts), min_size=1, max_size=6))
def test_fields_carried_as_json_read_encode_and_copy_as_the_decoded_fields(
    rows: list[tuple[str, dict[str, Any]]],
) -> None:
    texts = [t for t, _ in rows]
    fields = [f for _, f in rows]
    here = new_logs(texts, 1.5, "h", "stdin")
    grok_like(fields)(here)  # what the filter makes in process
    there = new_logs(texts, 1.5, "h", "stdin")
    out, _ = roundtrip(there, grok_like(fields))
    raw = [type(m._fields) is bytes for m in out]
    assert raw == [bool(f) for f in fields]  # only what is not empty crosses, as JSON
    for m in here:
        m.source_path.append("log")
    for m in out:
        m.source_path.append("log")
    # the canonical JSON, a batch's JSON lines and a copy: the same bytes, still undecoded
    assert json_lines(out) == json_lines(here)
    assert [m.to_json() for m in out] == [m.to_json() for m in here]
    copies = [m.copy() for m in out]
    assert [type(m._fields) for m in out] == [bytes if r else type(None) for r in raw]
    assert [m.to_dict() for m in copies] == [m.to_dict() for m in here]
    # read by the field paths and the condition language, decoded once on first read
    for m, h in zip(out, here, strict=True):
        for k in h.fields:
            if k.isidentifier():
                assert parse_path(f"fields.{k}").get(m) == h.fields[k]
    assert [m.fields for m in out] == [m.fields for m in here]
    assert all(type(m._fields) is not bytes for m in out)


def test_a_chain_of_worker_filters_passes_the_json_fields_on_as_fields() -> None:
    first = new_logs(["a", "b"], 1.0, "h", "stdin")
    out, _ = roundtrip(first, grok_like([{"x": 1}, {"y": "\x7f"}]))
    assert [type(m._fields) for m in out] == [bytes, bytes]
    data = encode_batch(out)
    assert data[:1] == b"J"  # the JSON put in as it is, not as a string
    inp, _ = decode_batch(data)
    assert [m.fields for m in inp] == [{"x": 1}, {"y": "\x7f"}]

    def rename(ms: list[Message]) -> list[Message]:
        for m in ms:
            m.fields["z"] = m.fields.pop(next(iter(m.fields)))
        return ms

    again, _ = roundtrip(out, rename)
    assert [m.fields for m in again] == [{"z": 1}, {"z": "\x7f"}]


def test_shared_fields_a_filter_did_not_touch_stay_the_main_process_s() -> None:
    shared = SharedFields({"peer": "10.0.0.1"})
    batch = new_logs(["a", "b"], 1.0, "h", "tcp", fields=shared)
    res = encode_result(*decode_batch(encode_batch(batch)), [])  # nothing to compare yet
    assert "rows" in res
    inp, cols = decode_batch(encode_batch(batch))
    for m in inp:
        m.level = 3
    res = encode_result(inp, cols, inp)
    assert "_fields" not in res["same"]
    out, _ = apply_result(batch, decode_reply(encode_reply(res)))
    assert all(m._fields is shared for m in out) and [m.level for m in out] == [3, 3]


def test_fields_in_copies_and_new_messages_cross_as_json_too() -> None:
    token = Delivery(2, None)
    batch = [Message(t, 1.0, ack=token) for t in ("one", "two")]

    def change(ms: list[Message]) -> list[Message]:
        ms[1].fields["n"] = 2
        c = ms[1].copy()
        c.fields["n"] = 3
        return [ms[1], c, Message("new", 1.0, fields={"k": [1, "x"]})]

    out, dropped = roundtrip(batch, change)
    assert [type(m._fields) for m in out] == [bytes, bytes, bytes]
    assert [m.fields for m in out] == [{"n": 2}, {"n": 3}, {"k": [1, "x"]}]
    assert dropped == [batch[0]] and out[1].ack is token and token.pending == 3


def test_fields_json_cannot_carry_come_back_decoded_by_pickle() -> None:
    batch = new_logs(["a"], 1.0, "h", "stdin")
    out, _ = roundtrip(batch, grok_like([{"big": 2**70}]))
    assert out[0]._fields == {"big": 2**70}


def test_the_readers_of_fields_decode_the_json() -> None:
    def raw() -> Message:
        m = Message("t", 1.0)
        m._fields = b'{"a":"x","n":{"k":1}}'
        return m

    assert fields_of(raw()) == {"a": "x", "n": {"k": 1}}
    assert parse_path("fields").get(raw()) == {"a": "x", "n": {"k": 1}}
    assert parse_path("fields.n.k").get(raw()) == 1
    m = raw()
    parse_path("fields.n.k").set(m, 2)
    assert m.fields == {"a": "x", "n": {"k": 2}}
    m = raw()
    assert parse_path("fields.a").delete(m) and m.fields == {"n": {"k": 1}}
    assert compile_condition('fields.a == "x"')(raw())
    assert not compile_condition('fields.a != "x"')(raw())
    assert raw().to_dict()["fields"] == {"a": "x", "n": {"k": 1}}


def test_the_broker_wire_and_the_ecs_document_carry_json_fields_as_the_decoded_ones() -> None:
    from qframe.broker import wire
    from qframe.plugins.handlers.elasticsearch.encode import DocumentEncoder

    def pair(raw: bytes) -> tuple[Message, Message]:
        a, b = Message("t", 1.0, source_path=["s"]), Message("t", 1.0, source_path=["s"])
        a._fields = raw
        b._fields = orjson.loads(raw)
        return a, b

    for raw in (b'{"a":"x","n":[1,2.5]}', b'{"a":null,"b":{"c":true}}'):
        a, b = pair(raw)
        (got,) = wire.decode(wire.payload(wire.encode_messages([a])))
        assert got.to_dict() == b.to_dict()
        for ecs in (False, True):
            a, b = pair(raw)
            enc = DocumentEncoder("logs", ecs=ecs)
            assert enc.document(a) == enc.document(b)


def test_texts_cross_joined_by_newlines_or_as_json_when_one_holds_a_newline() -> None:
    plain = ["a", "", "é \x7f \x00", "lone \ud800 surrogate", '"q" \\'] * 3
    data = encode_texts(plain)
    assert data[:1] == b"N" and decode_texts(data) == plain
    multi = ["one", "two\nlines", "three\r\n"]
    data = encode_texts(multi)
    assert data[:1] != b"N" and decode_texts(data) == multi
    assert decode_texts(encode_texts([""])) == [""]


def test_a_texts_answer_keeps_each_message_s_fields_as_their_json() -> None:
    res = decode_reply(
        encode_texts_reply([b'{"a":1}', b"", b"{}", b'{"b":"x\\ny"}'], [[1], []], {})
    )
    assert res["fields"] == [b'{"a":1}', None, None, b'{"b":"x\\ny"}']
    assert res["t"] == [[1], []]
    assert decode_reply(encode_texts_reply([], [[], []], {}))["fields"] == []
