"""The broker's batch format: every attribute of every message comes back exactly."""

from __future__ import annotations

import gzip
import math
import struct
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.batch import new_logs
from qframe.broker import wire
from qframe.message import ContainerInfo, Message, Metric, SharedFields

#: what travels: every slot of Message except the process-local delivery token
NOT_SENT = {"ack"}
TRAVELLING = sorted(set(Message.__slots__) - NOT_SENT)

text = st.text(max_size=20)  # any code point, lone surrogates included
key = st.text(max_size=8).filter(lambda k: k != "\x00") | st.just("\x00")
scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | text
    | st.binary(max_size=8)
)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
    max_leaves=8,
)
containers = st.builds(
    ContainerInfo,
    id=st.text(alphabet="0123456789abcdef", max_size=64),
    name=text.map(lambda s: s.lstrip("/")),
    image=text,
    labels=st.dictionaries(text, text, max_size=2),
    ips=st.dictionaries(text, text, max_size=2),
)
metrics = st.builds(
    Metric, text, st.dictionaries(text, value, max_size=3), st.sampled_from(["gauge", "counter"])
)
# a strategy for every travelling slot: a slot added to Message without one fails the test
SLOTS: dict[str, Any] = {
    "_fields": st.none() | st.dictionaries(key, value, max_size=4),
    "_labels": st.none() | st.dictionaries(text, text, min_size=1, max_size=3),
    "_tags": st.none() | st.lists(text, min_size=1, max_size=3),
    "container": st.none() | containers,
    "host": text,
    "id": text,
    "kind": st.sampled_from(["log", "event", "metric"]) | text,
    "level": st.integers(min_value=-(2**40), max_value=2**40),
    "message": text,
    "metric": st.none() | metrics,
    "source_path": st.lists(text, max_size=3),
    "source_success": st.booleans(),
    # nanosecond epoch times as floats, and any float at all
    "time": st.integers(min_value=0, max_value=4 * 10**18).map(lambda ns: ns / 1e9)
    | st.floats(allow_nan=False),
}


def test_every_travelling_slot_has_a_strategy() -> None:
    assert sorted(SLOTS) == TRAVELLING


@st.composite
def messages(draw: st.DrawFn) -> Message:
    m = Message.__new__(Message)
    for slot in TRAVELLING:
        setattr(m, slot, draw(SLOTS[slot]))
    m.ack = None
    return m


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types (NaN equals NaN, -0.0 is not 0.0)."""
    if type(a) is float and type(b) is float:
        if math.isnan(a):
            return math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, bytes | bytearray) or isinstance(b, bytes | bytearray):
        return type(b) is bytes and bytes(a) == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, ContainerInfo):
        return same(a.to_dict(), b.to_dict())
    if isinstance(a, Metric):
        return same([a.name, a.type, a.fields], [b.name, b.type, b.fields])
    return bool(a == b)


def normal(slot: str, v: Any) -> Any:
    return v or None if slot in ("_fields", "_labels", "_tags") else v


def round_trip(batch: list[Message], codec: str = "none") -> list[Message]:
    tables = wire.new_tables()
    records = [wire.encode_record(m, tables) for m in batch]
    return wire.decode(wire.payload(wire.encode_batch(records, tables), codec))


def assert_equal(sent: list[Message], got: list[Message]) -> None:
    assert len(got) == len(sent)
    for a, b in zip(sent, got, strict=True):
        for slot in TRAVELLING:
            x, y = normal(slot, getattr(a, slot)), normal(slot, getattr(b, slot))
            assert same(x, y), f"{slot}: {x!r} != {y!r}"


@settings(max_examples=150, deadline=None)
@given(st.lists(messages(), max_size=5), st.sampled_from(sorted(wire.CODECS)))
def test_every_attribute_round_trips(batch: list[Message], codec: str) -> None:
    assert_equal(batch, round_trip(batch, codec))


def test_nanosecond_times_big_ints_floats_and_unicode_are_kept() -> None:
    t = 1_764_133_200_123_456_789 / 1e9
    m = Message(
        "héllo ✓ \U0001f600",
        t,
        "event",
        id="a-1",
        fields={
            "big": 2**100,
            "neg": -(2**80),
            "nan": math.nan,
            "inf": -math.inf,
            "pi": math.pi,
            "raw": b"\xff\x00",
            "none": None,
            "\x00": "a key like our tag",
        },
    )
    (back,) = round_trip([m], "zstd")
    assert back.time == t and back.message == m.message
    f = back.fields
    assert f["big"] == 2**100 and f["neg"] == -(2**80) and math.isnan(f["nan"])
    assert f["inf"] == -math.inf and f["pi"] == math.pi and f["raw"] == b"\xff\x00"
    assert f["none"] is None and f["\x00"] == "a key like our tag"
    # the canonical JSON of the log handler would have lost these
    assert orjson.loads(orjson.dumps({"t": math.nan}))["t"] is None


def test_shared_fields_and_containers_are_sent_once_and_shared_again() -> None:
    c = ContainerInfo(id="c" * 64, name="web", image="nginx")
    shared = SharedFields(peer="10.0.0.1:5000")
    batch = new_logs([f"line {i}" for i in range(50)], 1.5, "h", "tcp", shared, c)
    tables = wire.new_tables()
    records = [wire.encode_record(m, tables) for m in batch]
    body = wire.encode_batch(records, tables)
    assert body.count(b"10.0.0.1:5000") == 1 and body.count(b"nginx") == 1
    got = wire.decode(wire.payload(body))
    assert_equal(batch, got)
    assert all(m.container is got[0].container for m in got)
    assert all(type(m._fields) is SharedFields and m._fields is got[0]._fields for m in got)


def ours(body: bytes, version: int = wire.VERSION, codec: int = 0) -> bytes:
    return wire.MAGIC + bytes((version, codec)) + body


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b'{"message": "a json line, not ours"}',
        ours(b"not json"),
        ours(b"{}"),
        ours(b"[[],[],[1]]"),
        ours(b'[[],[],[[0,"",1.0,"log",6,"h","m",["a"],true,0,0,0,0]]]'),  # 13 items
        ours(b'[[],[],[[0,5,1.0,"log",6,"h","m",["a"],true,0,0,0,0,0]]]'),  # id not a str
        ours(b'[[],[],[[0,"",1.0,"log",6,"h","m",[1],true,0,0,0,0,0]]]'),
        ours(b'[[],[],[[0,"",1.0,"log",6,"h","m",[],true,0,0,7,0,0]]]'),  # no shared[6]
        ours(b'[[],[],[[0,"",1.0,"log",6,"h","m",[],true,0,0,0,3,0]]]'),  # no container
        ours(b'[[[0,{"name":5}]],[],[[0,"",1.0,"log",6,"h","m",[],true,0,0,0,1,0]]]'),
        ours(b'[[],[],[[1,"",1.0,"log",6,"h","m",[],true,0,0,{"\\u0000":["?","x"]},0,0]]]'),
        ours(b"\x28\xb5\x2f\xfd garbage", codec=1),
        ours(b"garbage", codec=2),
        ours(gzip.compress(b"[[],[],[]]")[:-4], codec=2),
        ours(b"[[],[],[]]", codec=9),
        ours(b"[[],[],[]]", version=0),
    ],
)
def test_what_is_not_a_batch_of_ours_is_corrupt(data: bytes) -> None:
    with pytest.raises(wire.CorruptPayload):
        wire.decode(data)


def test_a_newer_version_is_told_apart_from_corruption() -> None:
    with pytest.raises(wire.FutureFormat):
        wire.decode(ours(b"anything at all", version=wire.VERSION + 1))


def test_a_compression_bomb_is_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_BODY", 2**20)
    body = gzip.compress(b" " * (wire.MAX_BODY + 10))
    with pytest.raises(wire.CorruptPayload):
        wire.decode(ours(body, codec=2))


def test_a_zstd_bomb_is_corrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    import zstandard

    monkeypatch.setattr(wire, "MAX_BODY", 2**20)
    body = zstandard.ZstdCompressor().compress(b" " * (wire.MAX_BODY + 10))
    with pytest.raises(wire.CorruptPayload):
        wire.decode(ours(body, codec=1))


def test_ids_are_given_once_to_messages_without_one() -> None:
    from qframe.broker.ids import IdSource

    a, b = IdSource(), IdSource()
    batch = [Message("x"), Message("y", id="file:1:0"), Message("z")]
    assert a.assign(batch) == 2
    ids = [m.id for m in batch]
    assert ids[1] == "file:1:0" and ids[0] != ids[2] and ids[0].startswith(a.prefix)
    assert a.assign(batch) == 0 and [m.id for m in batch] == ids
    assert a.prefix != b.prefix  # another process (or a restart) has another prefix


@st.composite
def reads(draw: st.DrawFn) -> list[Message]:
    """Runs of messages alike but for id and text (a collector's read), and others between."""
    out: list[Message] = []
    for _ in range(draw(st.integers(1, 3))):
        base = draw(messages())
        base._labels = base._tags = base.metric = None
        if draw(st.booleans()):
            base._fields = SharedFields(draw(SLOTS["_fields"]) or {})
        for body, mid in draw(st.lists(st.tuples(text_nonempty, text), max_size=6)):
            m = base.copy()
            m._fields = base._fields  # the same SharedFields object, as a read shares it
            m.container = base.container
            m.message, m.id = body, mid
            out.append(m)
        out.extend(draw(st.lists(messages(), max_size=2)))
    return out


text_nonempty = st.text(min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(reads(), st.sampled_from(sorted(wire.CODECS)), st.booleans())
def test_runs_of_a_read_round_trip(batch: list[Message], codec: str, give_ids: bool) -> None:
    from qframe.broker.ids import IdSource

    had = [m.id for m in batch]
    got = wire.decode(
        wire.payload(wire.encode_messages(batch, IdSource() if give_ids else None), codec)
    )
    if give_ids:  # every message has an id now: its own, or a new unique one
        assert all(m.id for m in got) and len({m.id for m in got if m.id not in had}) == sum(
            1 for m in got if m.id not in had
        )
        assert [a or b.id for a, b in zip(had, got, strict=True)] == [m.id for m in got]
        for m, g in zip(batch, got, strict=True):
            m.id = g.id
    assert_equal(batch, got)
    # each message has its own source_path
    assert len({id(m.source_path) for m in got}) == len(got)


@settings(max_examples=100, deadline=None)
@given(reads(), st.lists(messages(), max_size=3), st.sampled_from(sorted(wire.CODECS)))
def test_a_payload_made_in_one_go_is_the_payload_of_the_body(
    read: list[Message], others: list[Message], codec: str
) -> None:
    """encode_payload: the bytes of payload(encode_messages(…)) without compression, and
    the same messages with it."""
    batch = read + others
    one_go = wire.encode_payload(batch, None, None, codec)
    if codec == "none":
        assert one_go == wire.payload(wire.encode_messages(batch))
    assert_equal(batch, wire.decode(one_go))


def test_a_payload_made_in_one_go_gives_the_same_ids() -> None:
    from qframe.broker.ids import IdSource

    def batch() -> list[Message]:
        return [*new_logs(["a", "b"], 1.0, "h", "s"), Message("c", 2.0, tags=["t"])]

    ids, again = IdSource(), IdSource()
    again.prefix = ids.prefix
    assert wire.encode_payload(batch(), ids) == wire.payload(wire.encode_messages(batch(), again))


def test_a_read_is_one_record() -> None:
    batch = new_logs([f"line {i}" for i in range(100)], 1.5, "h", "stdin")
    for i, m in enumerate(batch):
        m.id = f"p-{i:x}"
    body = wire.encode_messages(batch)
    assert body.count(b'"stdin"') == 1
    assert_equal(batch, wire.decode(wire.payload(body)))


def test_a_read_without_ids_gets_a_range_of_them() -> None:
    from qframe.broker.ids import IdSource

    ids = IdSource()
    batch = new_logs([f"line {i}" for i in range(100)], 1.5, "h", "stdin")
    lone = Message("alone", 2.0)
    body = wire.encode_messages([*batch, lone], ids)
    got = wire.decode(wire.payload(body))
    assert [m.id for m in got[:100]] == [f"{ids.prefix}-{k:x}" for k in range(1, 101)]
    assert got[100].id == lone.id == f"{ids.prefix}-65"  # messages alone get theirs set
    assert [m.message for m in got] == [m.message for m in batch] + ["alone"]


@pytest.mark.parametrize("prefix", ["0a1b2c3d4e5f", "50%x", "a\nb", "é-%%s", ""])
def test_an_id_range_on_the_wire_is_the_agents_ids(prefix: str) -> None:
    """A range sent by an agent (any prefix: the payload is not trusted) decodes to the
    ids the agent would give one by one."""
    first = 0xFFF0
    rec = [3, [prefix, first], 1.5, "log", 6, "h", ["a", "b", "c"], ["in"], True, 0, 0, 0, 0, 0]
    body = orjson.dumps([[], [], [rec]])
    got = wire.decode(wire.payload(body))
    assert [m.id for m in got] == [f"{prefix}-{k:x}" for k in range(first, first + 3)]


@pytest.mark.parametrize("first", [0, 1, 200, 255, 256, 0x1F0, 0xFFF0, 2**40 - 300])
def test_an_id_range_across_hex_digit_boundaries(first: int) -> None:
    """Ids made per block of 256 (a shared stem) are the ids the agent gives one by one,
    from small numbers (fewer digits) over block and digit-count boundaries."""
    rec = [3, ["p0", first], 1.5, "log", 6, "h", [f"t{i}" for i in range(700)], ["in"], True]
    body = orjson.dumps([[], [], [[*rec, 0, 0, 0, 0, 0]]])
    got = wire.decode(wire.payload(body))
    assert [m.id for m in got] == [f"p0-{k:x}" for k in range(first, first + 700)]


def test_a_decoded_read_is_a_uniform_batch_whose_json_lines_are_exact() -> None:
    from qframe.batch import UniformBatch, json_lines
    from qframe.broker.ids import IdSource

    batch = new_logs([f"line {i} \x7f é" for i in range(50)], 1.5, "h", "stdin")
    got = wire.decode(wire.payload(wire.encode_messages(batch, IdSource())))
    assert type(got) is UniformBatch
    for m in got:
        m.source_path.append("out")
    assert json_lines(got) == b"".join(m.to_json() + b"\n" for m in got)


def test_alike_but_not_the_same_is_no_run() -> None:
    """Equal is not enough for a run: key order of fields and number types are kept."""
    a = new_logs(["a1", "a2"], 1.0, "h", "s", SharedFields(x=1, y=2))
    b = new_logs(["b1", "b2"], 1.0, "h", "s", SharedFields(y=2, x=1))
    c = new_logs(["c1", "c2"], 1, "h", "s", a[0]._fields)  # type: ignore[arg-type]
    batch = a + b + c
    got = wire.decode(wire.payload(wire.encode_messages(batch)))
    assert [list(m._fields) for m in got] == [["x", "y"]] * 2 + [["y", "x"]] * 2 + [["x", "y"]] * 2
    assert [type(m.time) for m in got] == [float] * 4 + [int] * 2


def test_reads_are_taken_whole_and_come_back_as_runs() -> None:
    """Reads (UniformBatch, Runs) are encoded as run records on their maker's promise and
    decode to Runs whose ends are the reads'; their JSON lines are exact."""
    from qframe.batch import Runs, UniformBatch, json_lines
    from qframe.broker.ids import IdSource

    r1 = new_logs([f"one {i} \x7f" for i in range(30)], 1.5, "h", "stdin")
    r2 = new_logs([f"two {i} é" for i in range(20)], 2.5, "h", "stdin")
    batch = Runs([*r1, *r2], [30, 50])
    ids = IdSource()
    body = wire.encode_messages(batch, ids)
    assert body.count(b"[3,[") == 2  # two run records, ids as ranges
    got = wire.decode(wire.payload(body), None, "bus")
    assert type(got) is Runs and got.ends == [30, 50]
    assert [m.message for m in got] == [m.message for m in batch]
    assert [m.time for m in got] == [1.5] * 30 + [2.5] * 20
    assert all(m.source_path == ["stdin", "bus"] for m in got)
    assert json_lines(got) == b"".join(m.to_json() + b"\n" for m in got)
    one = wire.decode(wire.payload(wire.encode_messages(UniformBatch(r1), ids)))
    assert type(one) is UniformBatch


def test_a_broken_promise_is_still_a_valid_batch() -> None:
    """A 'read' whose texts are not all set, or whose ids are some but not all, is encoded
    message by message: the reader accepts it and every message comes back."""
    from qframe.batch import UniformBatch
    from qframe.broker.ids import IdSource

    empty = UniformBatch(new_logs(["a", "", "c"], 1.0, "h", "s"))
    mixed = UniformBatch(new_logs(["a", "b", "c"], 1.0, "h", "s"))
    mixed[1].id = "mine"
    for batch, ids in ((empty, None), (empty, IdSource()), (mixed, None), (mixed, IdSource())):
        got = wire.decode(wire.payload(wire.encode_messages(batch, ids)))
        assert [m.message for m in got] == ["a", "", "c"] if batch is empty else ["a", "b", "c"]
        assert got[1].id == batch[1].id or batch is empty


def test_the_delivery_token_and_the_readers_name_are_set_by_decode() -> None:
    from qframe.message import Delivery

    token = Delivery(0, None)
    batch = [*new_logs(["a", "b"], 1.0, "h", "s"), Message("alone", 2.0)]
    got = wire.decode(wire.payload(wire.encode_messages(batch)), token, "bus")
    assert all(m.ack is token for m in got)
    assert [m.source_path[-1] for m in got] == ["bus"] * 3
