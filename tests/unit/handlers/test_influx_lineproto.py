"""Line protocol encoding: names, escaping, exact field types, precision."""

from __future__ import annotations

import math

import pytest

from qframe.message import ContainerInfo, Message, Metric
from qframe.plugins.handlers.influxdb.lineproto import (
    LineEncoder,
    escape_measurement,
    escape_tag,
    format_field,
)


def point(
    fields: dict,
    labels: dict | None = None,
    name: str = "cpu",
    t: float = 1700000000.75,
    host: str = "",
) -> Message:
    return Message(
        time=t, kind="metric", labels=labels or {}, metric=Metric(name, fields), host=host
    )


def test_a_metric_becomes_one_line_with_sorted_tags_and_typed_fields() -> None:
    m = point({"usage": 1.5, "count": 3, "ok": True, "state": "up"}, {"b": "2", "a": "1"})
    assert (
        LineEncoder().encode(m) == b'cpu,a=1,b=2 usage=1.5,count=3i,ok=true,state="up" 1700000000\n'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1i"),
        (-7, "-7i"),
        (0, "0i"),
        (2**63 - 1, "9223372036854775807i"),
        (2**64, repr(float(2**64))),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e300, "1e+300"),
        (True, "true"),
        (False, "false"),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        (None, None),
        (math.nan, None),
        (math.inf, None),
    ],
)
def test_field_values_keep_their_type(value: object, text: str | None) -> None:
    assert format_field(value) == text


def test_nan_and_none_fields_are_left_out_and_a_point_without_fields_is_skipped() -> None:
    enc = LineEncoder()
    assert enc.encode(point({"a": math.nan, "b": 2})) == b"cpu b=2i 1700000000\n"
    assert enc.encode(point({"a": math.nan, "b": None})) is None


def test_names_and_tags_escape_spaces_commas_and_equals_signs() -> None:
    assert escape_measurement("my cpu,x=y") == "my\\ cpu\\,x=y"
    assert escape_tag("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_tag("new\nline") == "new\\ line"
    assert escape_tag("ends\\") == "ends"
    m = point({"f x=1": "v"}, {"container name": "web 1,2=3"}, name="docker stats")
    assert LineEncoder().encode(m) == (
        b'docker\\ stats,container\\ name=web\\ 1\\,2\\=3 f\\ x\\=1="v" 1700000000\n'
    )


def test_empty_tag_values_are_left_out() -> None:
    assert (
        LineEncoder().encode(point({"v": 1}, {"a": "", "b": "x"})) == b"cpu,b=x v=1i 1700000000\n"
    )


def test_the_host_becomes_a_tag_unless_labels_have_one_or_it_is_turned_off() -> None:
    assert b",host=n1 " in LineEncoder().encode(point({"v": 1}, host="n1"))  # type: ignore[operator]
    assert b"host=mine" in LineEncoder().encode(point({"v": 1}, {"host": "mine"}, host="n1"))  # type: ignore[operator]
    assert b"host" not in LineEncoder(host_tag=False).encode(point({"v": 1}, host="n1"))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("precision", "ts"),
    [("s", b"1700000000"), ("ms", b"1700000000750"), ("us", b"1700000000750000")],
)
def test_the_timestamp_follows_the_precision(precision: str, ts: bytes) -> None:
    line = LineEncoder(precision).encode(point({"v": 1}))
    assert line is not None and line.endswith(b" " + ts + b"\n")


def test_events_and_logs_are_skipped_unless_a_measurement_is_set() -> None:
    ev = Message(
        "web1: container.start",
        time=1700000000,
        kind="event",
        container=ContainerInfo(id="abc", name="web1"),
    )
    assert LineEncoder().encode(ev) is None
    line = LineEncoder(measurement="events").encode(ev)
    assert line == (
        b'events,container_name=web1,kind=event message="web1: container.start",level=6i 1700000000\n'
    )


def test_tag_sets_are_cached_without_mixing_up_different_labels() -> None:
    enc = LineEncoder()
    a = enc.encode(point({"v": 1}, {"a": "1"}))
    b = enc.encode(point({"v": 1}, {"a": "2"}))
    assert a != b
    assert enc.encode(point({"v": 1}, {"a": "1"})) == a


def test_the_cached_field_format_still_leaves_out_nan_and_writes_big_ints_as_floats() -> None:
    enc = LineEncoder()
    assert (
        enc.encode(point({"a": 1.5, "b": 2, "inf%o": 3})) == b"cpu a=1.5,b=2i,inf%o=3i 1700000000\n"
    )
    assert (
        enc.encode(point({"a": math.nan, "b": 2, "inf%o": 3})) == b"cpu b=2i,inf%o=3i 1700000000\n"
    )
    assert enc.encode(point({"a": 0.5, "b": 2**70, "inf%o": 3})) == (
        b"cpu a=0.5,b=1.1805916207174113e+21,inf%o=3i 1700000000\n"
    )
    assert (
        enc.encode(point({"a": 0.25, "b": -1, "inf%o": 0}))
        == b"cpu a=0.25,b=-1i,inf%o=0i 1700000000\n"
    )
    assert enc.encode(point({"a": 0.25, "b": True, "inf%o": 0})) == (
        b"cpu a=0.25,b=true,inf%o=0i 1700000000\n"
    )


def _time(enc: LineEncoder, m: Message) -> int:
    line = enc.line(m)
    assert line is not None
    return int(line.rsplit(" ", 1)[1])


def test_event_points_of_one_series_and_time_stay_distinct() -> None:
    ms = [Message(message=f"line {i}", time=1.7e9) for i in range(3)]
    enc = LineEncoder("ns", measurement="logs", host_tag=False)
    times = [_time(enc, m) for m in ms]
    assert times == [times[0], times[0] + 1, times[0] + 2]  # one nanosecond apart
    assert _time(enc, Message(message="later", time=1.7e9 + 1)) == int((1.7e9 + 1) * 1e9)
    # at precision s nothing moves (a second is too coarse to shift by), nor when off
    coarse = LineEncoder("s", measurement="logs", host_tag=False)
    assert len({_time(coarse, m) for m in ms}) == 1
    off = LineEncoder("ns", measurement="logs", host_tag=False, distinct=False)
    assert len({_time(off, m) for m in ms}) == 1
