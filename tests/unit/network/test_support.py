"""Helpers of the network collectors: the rate-limited warning log."""

from __future__ import annotations

import logging

import pytest

from qframe.net.support import RateLimitedLog


def test_a_flood_of_warnings_is_logged_at_a_bounded_rate_with_a_count_of_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("qframe.net.support.time.monotonic", lambda: now[0])
    log = RateLimitedLog(logging.getLogger("test.ratelimit"), interval=10.0, burst=3)
    with caplog.at_level(logging.WARNING, logger="test.ratelimit"):
        for i in range(1000):
            log.warning("bad input %d", i)
        assert [r.getMessage() for r in caplog.records] == [f"bad input {i}" for i in range(3)]
        now[0] += 10.0
        log.warning("later")
    assert [r.getMessage() for r in caplog.records][3:] == [
        "997 more such warnings in the last 10s were not logged",
        "later",
    ]
