"""The nats handler's cut of a batch by its estimated bytes."""

from __future__ import annotations

from itertools import accumulate

from hypothesis import given
from hypothesis import strategies as st

from qframe.plugins.handlers.nats import _OVERHEAD, _fit


@given(
    st.lists(st.integers(0, 5000), max_size=60),
    st.integers(-10, 200_000),
    st.integers(0, 70),
    st.integers(0, 70),
)
def test_the_cut_is_the_most_messages_that_fit(
    texts: list[int], room: int, start: int, stop: int
) -> None:
    """From ``start`` to at most ``stop`` of the messages (``acc``: their texts' lengths
    summed from the first message)."""
    i = min(start, len(texts))
    j = min(max(i, stop), len(texts))
    acc = list(accumulate(texts, initial=0))
    k = _fit(acc, i, j, room)
    lens = list(accumulate(texts[i:j]))
    estimate = [n + _OVERHEAD * (m + 1) for m, n in enumerate(lens)]
    assert k == sum(1 for e in estimate if e <= room)  # estimates grow: a prefix fits
    assert all(e <= room for e in estimate[:k])
    assert k == len(lens) or estimate[k] > room
