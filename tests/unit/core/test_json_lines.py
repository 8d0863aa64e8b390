"""json_lines (the log handler's batch encoder) and the SharedFields of a collector's read."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qframe import Filter
from qframe.batch import UniformBatch, json_lines, new_logs
from qframe.message import ContainerInfo, Message, SharedFields
from qframe.testing import Harness, wait_until

from .test_message_slots import CHANGE


def one_by_one(batch: list[Message]) -> bytes:
    return b"".join(m.to_json() + b"\n" for m in batch)


TEXTS = st.text(max_size=40) | st.sampled_from(
    ['a","message":"b', '\\"', '"', "é\u2028\x00", "", "del \x7f", "\x7f"]
)

#: what a filter may do to one message of a read: a change of each slot of Message (derived
#: from its slots, see test_message_slots.py), and changes made in place
CHANGES = [
    lambda m: None,
    *(CHANGE[slot] for slot in sorted(Message.__slots__)),
    lambda m: m.add_tag("_grokparsefailure"),
    lambda m: m.source_path.append("grok"),
    lambda m: m.fields.update(status=200),
    lambda m: m.labels.update(env="prod"),
    lambda m: setattr(m, "message", ""),
]


@given(
    reads=st.lists(
        st.tuples(
            st.lists(TEXTS, max_size=8),
            st.booleans(),  # with fields (shared) or none
            st.lists(st.integers(0, len(CHANGES) - 1), max_size=8),
        ),
        max_size=4,
    ),
    ids=st.booleans() | st.lists(TEXTS, max_size=8),
)
def test_json_lines_is_each_message_encoded_on_its_own(reads: list, ids: bool | list) -> None:
    batch: list[Message] = []
    container = ContainerInfo(id="ab" * 32, name="web1", image="nginx")
    for i, (texts, with_fields, changes) in enumerate(reads):
        fields = SharedFields(remote_ip="10.0.0.1", remote_port=4000 + i) if with_fields else None
        ms = new_logs(texts, 1764133200.25 + i, "10.0.0.1", "tcp", fields, container)
        if ids is True:  # a read given ids (as the nats handler and collector do)
            for k, m in enumerate(ms):
                m.id = f"p{i}-{k:x}"
        elif ids:  # some ids (empty ones too), with DEL and quotes in them
            for m, x in zip(ms, ids, strict=False):
                m.id = x
        for m, c in zip(ms, changes, strict=False):
            CHANGES[c](m)
        batch += ms
    for m in batch:
        m.source_path.append("out")
    assert json_lines(batch) == one_by_one(batch)


#: values a parser may put into a message's own fields: nested, unicode, DEL (the fields
#: run's separator, alone in a list too), quotes, keys that look like the canonical keys
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXTS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(TEXTS | st.sampled_from(["fields", "message", "id"]), inner, max_size=3)
    ),
    max_leaves=8,
)
#: a message's time after its read's: the same, later, a rounding up to the next second
TIMES = [0.0, 0.0, 0.5, 1e-7, 0.7499996, 3600.000001]
OWN_FIELDS = st.dictionaries(
    st.sampled_from(["a", "fields", "message", ',"fields":', "\x7f", "status"]) | TEXTS,
    VALUES,
    max_size=4,
)


@given(
    rows=st.lists(st.tuples(TEXTS, OWN_FIELDS, TEXTS, st.sampled_from(TIMES)), max_size=12),
    with_ids=st.booleans(),
    changes=st.lists(st.integers(0, len(CHANGES) - 1), max_size=12),
)
def test_a_parsers_output_is_each_message_encoded_on_its_own(
    rows: list, with_ids: bool, changes: list[int]
) -> None:
    """Messages with their own fields (what json, kv, dissect and grok make) and maybe
    their own times (a container log file's lines): the fields run of json_lines gives the
    same bytes as each message encoded alone."""
    container = ContainerInfo(id="ab" * 32, name="web1", image="nginx")
    batch = new_logs([row[0] for row in rows], 1764133200.25, "h", "stdin", None, container)
    for m, (_, fields, mid, dt) in zip(batch, rows, strict=True):
        m.fields = fields
        m.time += dt
        if with_ids:
            m.id = mid
        m.source_path.append("parse")
    for m, c in zip(batch, changes, strict=False):
        CHANGES[c](m)
    assert json_lines(batch) == one_by_one(batch)


def test_a_parsers_output_is_encoded_exactly() -> None:
    texts = ["GET / 200", 'say "hi"', "ünïcödé \u2028", "del \x7f", 'x,"fields":{}', "\\"]
    fields: list[dict] = [
        {"verb": "GET", "status": 200},
        {"quote": '"', "nested": {"a": [1, 2.5, None, True]}},
        {"fields": {"fields": "x"}, "message": "m"},
        {"sep": ["\x7f", "a"], "\x7f": "\x7f"},
        {"big": 2**63 - 1, "neg": -(2**63)},
        {"e": ""},
    ]
    for ids in (False, True):
        batch = new_logs(texts, 1764133200.5, "h", "stdin")
        for k, (m, f) in enumerate(zip(batch, fields, strict=True)):
            m.fields = dict(f)
            if ids:
                m.id = f"file-{k}" if k != 3 else "del\x7fid"
        assert json_lines(batch) == one_by_one(batch)
        without_del = [m for m in batch if "\x7f" not in m.message and "\x7f" not in m.id]
        assert json_lines(without_del) == one_by_one(without_del)
    # a message that cannot be encoded fails the batch, as it fails alone
    batch = new_logs(["a", "b", "c"], 1.0, "h", "stdin")
    for k, m in enumerate(batch):
        m.fields = {"n": 2**64 if k == 2 else k}
    with pytest.raises(orjson.JSONEncodeError):
        json_lines(batch)
    with pytest.raises(orjson.JSONEncodeError):
        batch[2].to_json()
    deep: dict = {}
    d = deep
    for _ in range(300):
        d["x"] = {}
        d = d["x"]
    batch[2].fields = deep
    with pytest.raises(orjson.JSONEncodeError):
        json_lines(batch)


@pytest.mark.parametrize("change", range(len(CHANGES)))
def test_a_message_changed_in_the_middle_of_a_read_is_encoded_as_it_is(change: int) -> None:
    for fields in (SharedFields(remote_ip="10.0.0.1"), None):
        batch = new_logs(["one", "two", "three"], 1.0, "h", "tcp", fields)
        CHANGES[change](batch[1])
        assert json_lines(batch) == one_by_one(batch)


@pytest.mark.parametrize("uniform", [False, True])
def test_a_read_of_plain_lines_is_encoded_exactly(uniform: bool) -> None:
    fields = SharedFields(remote_ip="10.0.0.1", remote_port=4242)
    texts = ["GET / 200", 'say "hi"', "tab\there", "ünïcödé", 'x,"message":"y', "\\n"]
    for extra in ([], ["a DEL \x7f here"]):  # DEL: the one-call encoding's separator
        batch = new_logs(texts + extra, 1.5, "10.0.0.1", "tcp", fields)
        if uniform:
            batch = UniformBatch(batch)
        assert json_lines(batch) == one_by_one(batch)
    batch = new_logs(texts, 1764133200.123456, "10.0.0.1", "tcp", fields)
    out = json_lines(batch)
    assert out == one_by_one(batch)
    lines = [orjson.loads(x) for x in out.splitlines()]
    assert [d["message"] for d in lines] == texts
    assert all(d["fields"] == {"remote_ip": "10.0.0.1", "remote_port": 4242} for d in lines)
    assert json_lines([]) == b""


@pytest.mark.parametrize(
    ("texts", "host", "id_of"),
    [
        (["GET / 200", 'say "hi"', "\\u001f", "ünï"], "h", "p-{:x}".format),
        (["a ` b", "c"], "h", "p-{:x}".format),  # the first separator in a text
        (["a `~^| b", "c"], "h", "p-{:x}".format),  # every separator: one by one
        (["a", "b"], "h`", "p-{:x}".format),  # a separator in the join between texts
        (["a", "b"], "h\x7f", "p-{:x}".format),  # DEL in the join between id and text
        (["a", "b", "c"], "h", lambda k: "i\x7f`|"[k]),  # separators in the ids
        (["a"], "h", "p-{:x}".format),
    ],
)
def test_a_read_with_ids_is_encoded_exactly(texts: list[str], host: str, id_of: Any) -> None:
    for fields in (SharedFields(remote_ip="10.0.0.1"), None):
        batch = UniformBatch(new_logs(texts, 1.5, host, "tcp", fields))
        for k, m in enumerate(batch):
            m.id = id_of(k)
            m.source_path.append("out")
        assert json_lines(batch) == one_by_one(batch)


def test_a_change_through_fields_stays_with_its_message() -> None:
    fields = SharedFields(remote_ip="10.0.0.1")
    a, b = new_logs(["a", "b"], 1.0, "h", "tcp", fields)
    a.fields["status"] = 200
    del a.fields["remote_ip"]
    assert a.fields == {"status": 200}
    assert b.fields == {"remote_ip": "10.0.0.1"}
    assert dict(fields) == {"remote_ip": "10.0.0.1"}  # the shared dict itself is untouched
    assert type(a.fields) is dict  # a plain dict of its own from the first access on
    assert json_lines([a, b]) == one_by_one([a, b])


@given(texts=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=10))
def test_a_uniform_batch_is_encoded_exactly(texts: list[str]) -> None:
    container = ContainerInfo(id="ab" * 32, name="web1")
    for fields in (SharedFields(remote_ip="10.0.0.1", remote_port=1), None):
        batch = UniformBatch(new_logs(texts, 1764133200.5, "10.0.0.1", "tcp", fields, container))
        for m in batch:
            m.source_path.append("out")
        assert json_lines(batch) == one_by_one(batch)


def test_a_uniform_batch_that_breaks_its_promise_is_still_encoded_exactly() -> None:
    batch = UniformBatch(new_logs(["", "b"], 1.0, "h", "tcp"))  # an empty first text
    assert json_lines(batch) == one_by_one(batch)
    batch[1].add_tag("t")
    batch.reverse()
    assert json_lines(batch) == one_by_one(batch)  # a tagged first message


def test_uniform_batches_become_plain_lists_when_sliced_copied_or_merged() -> None:
    b = UniformBatch(new_logs(["a", "b", "c"], 1.0, "h", "tcp"))
    assert type(b[:2]) is list and type(b.copy()) is list and type(b + b) is list


class TagInPlace(Filter):
    """Changes a message of the batch in place and returns the same batch object."""

    async def process(self, batch: list[Message]) -> list[Message]:
        batch[1].add_tag("_seen")
        batch[1].level = 3
        batch[2].fields["status"] = 404
        return batch


async def test_a_batch_changed_in_place_by_a_filter_is_encoded_as_changed(tmp_path) -> None:
    out = tmp_path / "out.json"
    cfg = {
        "collector": {"src": {"kind": "list", "linger": True}},
        "filter": {"f": {"kind": "tag-in-place", "inputs": ["src"]}},
        "handler": {"out": {"kind": "log", "inputs": ["f"], "format": "json", "path": str(out)}},
    }
    fields = SharedFields(remote_ip="10.0.0.1")
    batch = UniformBatch(new_logs(["one", "two", "three"], 1764133200.5, "h", "src", fields))
    async with Harness(cfg, extra={("filter", "tag-in-place"): TagInPlace}) as h:
        await h.plugin("src").send(batch)
        await wait_until(lambda: out.exists() and out.read_bytes().count(b"\n") == 3)
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [d.get("tags") for d in lines] == [None, ["_seen"], None]
    assert [d["level"] for d in lines] == [6, 3, 6]
    assert [d["fields"] for d in lines] == [
        {"remote_ip": "10.0.0.1"},
        {"remote_ip": "10.0.0.1"},
        {"remote_ip": "10.0.0.1", "status": 404},
    ]
    assert all(d["source_path"] == ["src", "f", "out"] for d in lines)
