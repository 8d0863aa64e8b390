"""The message and its canonical JSON."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from qframe.message import ContainerInfo, Delivery, Message, Metric, format_time, parse_time


def test_canonical_json_uses_the_design_keys_and_leaves_empty_parts_out() -> None:
    m = Message("hello", 1764133200.123456, host="h1", source_path=["stdin", "log"])
    d = orjson.loads(m.to_json())
    assert d == {
        "@timestamp": "2025-11-26T05:00:00.123456Z",
        "kind": "log",
        "message": "hello",
        "level": 6,
        "host": "h1",
        "source_path": ["stdin", "log"],
        "source_success": True,
    }


def test_canonical_json_round_trips_every_part() -> None:
    m = Message(
        "x",
        1.5,
        "metric",
        level=3,
        host="h",
        id="abc",
        source_path=["a"],
        source_success=False,
        labels={"l": "v"},
        tags=["_t"],
        fields={"n": 1, "nested": {"k": [1, 2]}},
        container=ContainerInfo(
            id="c" * 64, name="/web1", image="busybox", ips={"podman": "10.88.0.5"}
        ),
        metric=Metric("docker_container_cpu", {"usage_percent": 12.5}, "gauge"),
    )
    back = Message.from_json(m.to_json())
    assert back.to_dict() == m.to_dict()
    assert back.container is not None and back.container.name == "web1"


def test_fields_tags_and_labels_are_created_on_first_use() -> None:
    m = Message("x")
    assert "fields" not in m.to_dict()
    m.fields["a"] = 1
    m.add_tag("t")
    m.add_tag("t")
    m.labels["k"] = "v"
    assert m.to_dict()["fields"] == {"a": 1} and m.tags == ["t"] and m.labels == {"k": "v"}


def test_copy_has_its_own_mutable_parts() -> None:
    m = Message("x", fields={"a": {"b": 1}}, tags=["t"], source_path=["s"])
    c = m.copy()
    c.fields["a"]["b"] = 2
    c.tags.append("u")
    c.source_path.append("f")
    assert m.fields == {"a": {"b": 1}} and m.tags == ["t"] and m.source_path == ["s"]


def test_delivery_calls_back_once_when_every_copy_is_done() -> None:
    calls: list[int] = []
    d = Delivery(2, lambda: calls.append(1))
    d.done()
    assert calls == [] and not d.complete
    d.done()
    d.done()
    assert calls == [1] and d.complete


def test_ack_counts_each_token_once_per_message() -> None:
    """One token for the whole batch (one count), tokens in turn, messages without one,
    and a generator of messages."""
    from qframe.plugin import ack

    left = {}

    def token(name: str, n: int) -> Delivery:
        left[name] = n
        d = Delivery(n, lambda: left.pop(name))
        return d

    def msgs(d: Delivery | None, n: int) -> list[Message]:
        return [Message(str(i), 1.0, ack=d) for i in range(n)]

    a = token("a", 3)
    ack(msgs(a, 3))
    assert "a" not in left
    b, c = token("b", 3), token("c", 4)
    batch = [*msgs(None, 1), *msgs(b, 2), *msgs(None, 2), *msgs(c, 4), *msgs(b, 1)]
    ack(m for m in batch)
    assert left == {}
    d = token("d", 5)
    ack(msgs(d, 4))
    assert left == {"d": 5} and d.pending == 1
    ack([])
    ack(msgs(None, 3))


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_format_and_parse_time_round_trip_to_the_microsecond(t: float) -> None:
    s = format_time(t)
    assert s.endswith("Z") and len(s) == 27
    assert abs(parse_time(s) - t) <= 1e-6 + abs(t) * 1e-15


def test_parse_time_takes_nanoseconds_and_offsets() -> None:
    assert parse_time("2026-11-26T05:00:00.123456789Z") == parse_time("2026-11-26T05:00:00.123456Z")
    assert parse_time("2026-11-26T06:00:00+01:00") == parse_time("2026-11-26T05:00:00Z")
