"""The rate-limited log every plugin uses for bad input."""

from __future__ import annotations

import logging

import pytest

from qframe.ratelog import RateLimitedLog


def test_a_flood_of_warnings_is_logged_at_a_bounded_rate_with_a_count_of_the_rest(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("qframe.ratelog.time.monotonic", lambda: now[0])
    log = RateLimitedLog(logging.getLogger("test.ratelimit"))
    with caplog.at_level(logging.WARNING, logger="test.ratelimit"):
        logged = [log.warning("bad", "bad input %d", i, every=10.0, burst=3) for i in range(1000)]
        assert logged.count(True) == 3
        assert [r.getMessage() for r in caplog.records] == [f"bad input {i}" for i in range(3)]
        now[0] += 10.0
        log.warning("bad", "later", every=10.0, burst=3)
    assert [r.getMessage() for r in caplog.records][3:] == [
        "later (997 more like it in the last 10s were not logged)",
    ]


def test_keys_have_windows_of_their_own(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger("test.ratelimit.keys"))
    with caplog.at_level(logging.WARNING, logger="test.ratelimit.keys"):
        for _ in range(5):
            log.warning("a", "reason a")
            log.warning("b", "reason b")
    assert [r.getMessage() for r in caplog.records] == ["reason a", "reason b"]
