"""Exponential backoff, the one rule every retry loop in qframe uses."""

from __future__ import annotations

import random

__all__ = ["backoff"]


def backoff(attempt: int, initial: float = 0.5, cap: float = 60.0, jitter: bool = False) -> float:
    """``initial × 2^(attempt-1)``, at most ``cap``; with ``jitter``, between half and all of it."""
    d = min(cap, initial * (2 ** min(max(0, attempt - 1), 30)))
    return d * (0.5 + random.random() / 2) if jitter else d
