"""Retry timing, URL rotation and the treatment of whole-request statuses."""

from __future__ import annotations

import pytest

from qframe.message import Message
from qframe.plugins.common.delivery import UrlPool, backoff_delay, default_outcome


def test_backoff_doubles_with_jitter_and_stays_under_the_cap() -> None:
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0), (100, 30.0)]:
        delays = [backoff_delay(attempt, 0.5, 30.0) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def test_urls_are_used_round_robin() -> None:
    pool = UrlPool(["http://a/", "http://b", "http://c"])
    assert pool.urls == ["http://a", "http://b", "http://c"]
    assert [pool.pick() for _ in range(6)] == [0, 1, 2, 0, 1, 2]


def test_a_failed_url_is_skipped_until_its_backoff_passed() -> None:
    pool = UrlPool(["http://a", "http://b"])
    pool.failed(0, 60.0, 60.0)
    assert [pool.pick() for _ in range(4)] == [1, 1, 1, 1]
    pool.succeeded(0)
    assert sorted(pool.pick() for _ in range(2)) == [0, 1]


def test_when_every_url_failed_the_first_to_come_back_is_tried() -> None:
    pool = UrlPool(["http://a", "http://b"])
    pool.failed(0, 60.0, 60.0)
    pool.failed(1, 0.001, 0.001)
    assert not pool.any_up() or pool.pick() == 1
    assert pool.pick() == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "done"),
        (204, "done"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (401, "retry"),
        (403, "retry"),
        (404, "retry"),
        (400, "split"),
        (413, "split"),
        (422, "split"),
    ],
)
def test_whole_request_statuses(status: int, kind: str) -> None:
    its = [(Message("a"), b"a"), (Message("b"), b"b")]
    out = default_outcome(status, b"why", its)
    got = (
        "done"
        if out.done == its
        else "retry"
        if out.retry == its
        else "split"
        if out.split
        else "?"
    )
    assert got == kind
    if kind != "done":
        assert str(status) in out.reason
