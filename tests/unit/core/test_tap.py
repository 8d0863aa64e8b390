"""A tap's bounded queue and rate: what does not fit is counted, never waited for."""

from __future__ import annotations

import orjson

from qframe.message import Message
from qframe.ops import tap as tapmod
from qframe.ops.tap import QUEUE_MAX, Tap


def batch(n: int) -> list[Message]:
    return [Message(f"line {i}") for i in range(n)]


def test_a_tap_without_a_rate_queues_until_full_and_counts_the_rest() -> None:
    t = Tap([], rate=0)
    t.offer(b'"src"', batch(QUEUE_MAX - 10))
    t.offer(b'"src"', batch(25))
    assert len(t.queue) == QUEUE_MAX
    assert t.dropped_full == 15
    assert t.dropped_rate == 0
    first = orjson.loads(t.queue[0])
    assert first["instance"] == "src"
    assert first["message"]["message"] == "line 0"
    assert t.wake.is_set()


def test_a_rate_takes_the_budget_and_counts_the_rest(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr(tapmod.time, "monotonic", lambda: now[0])
    t = Tap([], rate=10)
    t.offer(b'"a"', batch(25))  # a full bucket: 10
    assert (len(t.queue), t.dropped_rate) == (10, 15)
    t.offer(b'"a"', batch(5))  # nothing left
    assert (len(t.queue), t.dropped_rate) == (10, 20)
    now[0] += 0.5  # half a second: 5 more
    t.offer(b'"a"', batch(8))
    assert (len(t.queue), t.dropped_rate) == (15, 23)
    now[0] += 60  # the bucket holds a second's worth at most
    t.offer(b'"a"', batch(30))
    assert (len(t.queue), t.dropped_rate) == (25, 43)
    assert t.taken == 25


def test_the_messages_are_copied_when_offered() -> None:
    t = Tap([], rate=0)
    b = batch(1)
    t.offer(b'"a"', b)
    b[0].message = "changed downstream"
    assert orjson.loads(t.queue[0])["message"]["message"] == "line 0"


def test_stats_line() -> None:
    t = Tap([], rate=0)
    t.dropped_full, t.sent = 3, 7
    assert orjson.loads(t.stats(end=True)) == {
        "tap": {"sent": 7, "dropped": {"full": 3, "rate": 0}, "end": True}
    }
