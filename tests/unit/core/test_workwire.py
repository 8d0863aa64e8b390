"""What crosses to a filter's workers (qframe.runtime.workwire), without processes: a batch
encoded, decoded as a worker does, changed by a "filter", its result applied to the original
messages — the changes arrive, the objects and delivery tokens stay the main process's."""

from __future__ import annotations

from qframe.batch import new_logs
from qframe.message import ContainerInfo, Delivery, Message, Metric
from qframe.runtime.workwire import (
    apply_result,
    decode,
    decode_batch,
    encode,
    encode_batch,
    encode_result,
)


def roundtrip(batch: list[Message], change) -> tuple[list[Message], list[Message]]:  # type: ignore[no-untyped-def]
    inp, cols = decode_batch(encode_batch(batch))
    out = change(list(inp))
    return apply_result(batch, decode(encode(encode_result(inp, cols, out))))


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
