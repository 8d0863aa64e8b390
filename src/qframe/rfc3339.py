"""RFC 3339 timestamps as container engines and runtimes write them → ns since the epoch.

Kept apart from :mod:`qframe.docker` (whose client pulls in aiohttp) so that the file
collector's CRI and docker-json formats can use it without that import.
"""

from __future__ import annotations

import calendar
import time

__all__ = ["TsParser", "parse_ts_ns"]


class TsParser:
    """RFC 3339 timestamps as the engine writes them → ns; caches the seconds part."""

    def __init__(self) -> None:
        self._cache: dict[bytes, int] = {}
        self._last_key = b""
        self._last_sec = 0

    def __call__(self, b: bytes) -> int | None:
        if len(b) < 20 or b[10] != 0x54:  # "T"
            return None
        key = b[:19]
        if key == self._last_key and len(b) == 30 and b[29] == 0x5A and b[19] == 0x2E:
            digits = b[20:29]  # the engine's usual form: nanoseconds, Z, the same second
            if digits.isdigit():
                return self._last_sec * 1_000_000_000 + int(digits)
        sec = self._cache.get(key)
        if sec is None:
            try:
                sec = calendar.timegm(time.strptime(key.decode("ascii"), "%Y-%m-%dT%H:%M:%S"))
            except (ValueError, UnicodeDecodeError):
                return None
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = sec
        self._last_key, self._last_sec = key, sec
        i = 19
        n = len(b)
        frac = 0
        if b[i] == 0x2E:  # "."
            j = i + 1
            while j < n and 0x30 <= b[j] <= 0x39:
                j += 1
            digits = b[i + 1 : j][:9]
            if not digits:
                return None
            frac = int(digits) * 10 ** (9 - len(digits))
            i = j
        if i >= n:
            return None
        c = b[i]
        if c in (0x5A, 0x7A):  # Z z
            off = 0
        elif c in (0x2B, 0x2D) and n - i >= 6 and b[i + 3] == 0x3A:  # +hh:mm / -hh:mm
            try:
                off = (int(b[i + 1 : i + 3]) * 60 + int(b[i + 4 : i + 6])) * 60
            except ValueError:
                return None
            if c == 0x2B:
                off = -off
        else:
            return None
        return (sec + off) * 1_000_000_000 + frac


def parse_ts_ns(b: bytes) -> int | None:
    """``2026-11-26T05:00:00.123456789Z`` (any precision, ``Z`` or ``±hh:mm``) → ns."""
    return TsParser()(b)
