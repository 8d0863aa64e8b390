"""Log lines at a bounded rate: bad input must be logged, but a flood of it must not flood the log.

Every plugin has one (:meth:`qframe.plugin.Plugin.warn_limited`).  Per key, at most
``burst`` lines per ``every`` seconds are written; the first line after a quiet window
says how many were held back.
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    __slots__ = ("_state", "log")

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        # key -> [window start, lines written in the window, lines held back]
        self._state: dict[str, list[float]] = {}

    def warning(
        self,
        key: str,
        fmt: str,
        *args: Any,
        every: float = 10.0,
        burst: int = 1,
        exc: BaseException | None = None,
        level: int = logging.WARNING,
    ) -> bool:
        """Log unless ``key`` used up its ``burst`` in the last ``every`` seconds; True if logged."""
        now = time.monotonic()
        st = self._state.get(key)
        if st is None or now - st[0] >= every:
            held = int(st[2]) if st is not None else 0
            st = self._state[key] = [now, 0, 0]
            if held:
                fmt += " (%d more like it in the last %.0fs were not logged)"
                args = (*args, held, every)
        if st[1] >= burst:
            st[2] += 1
            return False
        st[1] += 1
        self.log.log(level, fmt, *args, exc_info=exc)
        return True
