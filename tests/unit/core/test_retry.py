"""The one backoff rule: doubling from ``initial``, capped, optionally jittered."""

from __future__ import annotations

import random

from qframe.retry import backoff


def test_the_delay_doubles_from_the_initial_one_up_to_the_cap() -> None:
    assert [backoff(a) for a in range(0, 5)] == [0.5, 0.5, 1.0, 2.0, 4.0]
    assert backoff(3, initial=0.1, cap=0.3) == 0.3
    assert backoff(200) == 60.0  # a huge attempt number neither overflows nor passes the cap
    # the exponent stops growing at 30 (2^30 × initial), whatever the cap
    assert backoff(40, initial=1.0, cap=float("inf")) == 2.0**30


def test_jitter_spreads_the_delay_between_half_and_all_of_it() -> None:
    state = random.getstate()
    random.seed(23)
    try:
        got = [backoff(3, jitter=True) for _ in range(2000)]
    finally:
        random.setstate(state)
    assert all(1.0 <= d <= 2.0 for d in got)
    assert min(got) < 1.05 and max(got) > 1.95  # the whole range is used
    assert len(set(got)) > 1000
