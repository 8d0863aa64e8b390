"""Every attribute of Message, derived from its slots: a new one cannot slip past the
model (copy, canonical JSON both ways) or the fast paths (new_log, new_logs, json_lines).

Adding a slot to Message makes ``test_every_slot_has_a_change`` fail until the slot has
an entry in :data:`CHANGE`; from then on the other tests check each path with it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qframe.batch import UniformBatch, json_lines, new_logs
from qframe.message import (
    ContainerInfo,
    Delivery,
    Message,
    Metric,
    SharedFields,
    new_log,
)

#: for each slot of Message, a change of it that its canonical JSON shows (but ``ack``)
CHANGE: dict[str, Callable[[Message], None]] = {
    "message": lambda m: setattr(m, "message", m.message + " (changed)"),
    "time": lambda m: setattr(m, "time", m.time + 0.5),
    "kind": lambda m: setattr(m, "kind", "event"),
    "level": lambda m: setattr(m, "level", 3),
    "host": lambda m: setattr(m, "host", "other"),
    "id": lambda m: setattr(m, "id", "x-1"),
    "source_path": lambda m: setattr(m, "source_path", [*m.source_path, "grok"]),
    "source_success": lambda m: setattr(m, "source_success", False),
    "_labels": lambda m: setattr(m, "labels", {"env": "prod"}),
    "_tags": lambda m: setattr(m, "tags", ["_grokparsefailure"]),
    "_fields": lambda m: setattr(m, "fields", {"status": 200}),
    "container": lambda m: setattr(m, "container", ContainerInfo(id="c" * 64, name="web2")),
    "metric": lambda m: setattr(m, "metric", Metric("cpu", {"usage": 1.5})),
    "ack": lambda m: setattr(m, "ack", Delivery(1, None)),  # not part of the JSON
}
NOT_ENCODED = {"ack"}
SLOTS = sorted(Message.__slots__)


def read(n: int = 3, fields: SharedFields | None = None) -> list[Message]:
    container = ContainerInfo(id="ab" * 32, name="web1", image="nginx")
    return new_logs([f"line {i}" for i in range(n)], 1764133200.25, "h", "tcp", fields, container)


def one_by_one(batch: list[Message]) -> bytes:
    return b"".join(m.to_json() + b"\n" for m in batch)


def same(a: object, b: object) -> bool:
    if isinstance(a, Metric) and isinstance(b, Metric):
        return a.to_dict() == b.to_dict()
    return a == b


def test_every_slot_has_a_change() -> None:
    assert set(CHANGE) == set(Message.__slots__)


@pytest.mark.parametrize("slot", SLOTS)
def test_each_change_is_seen_by_the_canonical_json(slot: str) -> None:
    m = read(1)[0]
    before = m.to_json()
    CHANGE[slot](m)
    assert (m.to_json() == before) == (slot in NOT_ENCODED)


def test_new_log_and_new_logs_set_every_slot_as_the_constructor_does() -> None:
    fields = SharedFields(remote_ip="10.0.0.1")
    c = ContainerInfo(id="ab" * 32)
    want = Message("x", 1.5, host="h", source_path=["tcp"], fields=fields, container=c)
    fast = new_log("x", 1.5, "h", ["tcp"], fields=fields, container=c)
    (batch,) = new_logs(["x"], 1.5, "h", "tcp", fields, c)
    for m in (fast, batch):
        for slot in SLOTS:
            assert same(getattr(m, slot), getattr(want, slot)), slot


@pytest.mark.parametrize("slot", SLOTS)
def test_copy_keeps_each_slot(slot: str) -> None:
    m = read(1)[0]
    CHANGE[slot](m)
    c = m.copy()
    for s in SLOTS:
        assert same(getattr(c, s), getattr(m, s)), s


def test_the_canonical_json_round_trips_every_encoded_slot() -> None:
    m = read(1)[0]
    for slot in SLOTS:
        CHANGE[slot](m)
    back = Message.from_json(m.to_json())
    for slot in SLOTS:
        if slot not in NOT_ENCODED:
            assert same(getattr(back, slot), getattr(m, slot)), slot


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("slot", SLOTS)
def test_json_lines_sees_a_change_of_each_slot_anywhere_in_a_read(
    slot: str, shared: bool, where: int
) -> None:
    batch = read(3, SharedFields(remote_ip="10.0.0.1") if shared else None)
    CHANGE[slot](batch[where])
    assert json_lines(batch) == one_by_one(batch)


@pytest.mark.parametrize("slot", SLOTS)
def test_json_lines_of_a_uniform_batch_changed_alike_in_each_slot(slot: str) -> None:
    batch = UniformBatch(read(3, SharedFields(remote_ip="10.0.0.1")))
    for m in batch:
        CHANGE[slot](m)
    assert json_lines(batch) == one_by_one(batch)
