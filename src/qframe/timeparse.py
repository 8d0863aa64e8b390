"""Date formats compiled once: Joda/Logstash (``dd/MMM/yyyy:HH:mm:ss Z``), strftime
(``%d/%b/%Y:%H:%M:%S %z``) and the named ``ISO8601``, ``UNIX``, ``UNIX_MS``, ``TAI64N``.

A format becomes one regular expression with named groups and a converter that computes
epoch seconds with integer arithmetic (no ``datetime`` per line, no per-line format
parsing).  A format without a year takes the current one, a year back when that puts
the time more than a month ahead (December lines read in January) and a year on when it
puts it 11 months back.  A format without an offset is in ``timezone`` (UTC, a fixed
``+02:00`` or an IANA name; the IANA offset is cached per local hour).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DateParser", "FormatError", "compile_format"]

MONTHS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"),
    ),
    "de": (
        ("jan", "feb", "mär", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "dez"),
        ("januar", "februar", "märz", "april", "mai", "juni", "juli", "august",
         "september", "oktober", "november", "dezember"),
    ),
    "fr": (
        ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
         "nov.", "déc."),
        ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
         "septembre", "octobre", "novembre", "décembre"),
    ),
    "es": (
        ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
        ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
         "septiembre", "octubre", "noviembre", "diciembre"),
    ),
}  # fmt: skip


class FormatError(ValueError):
    pass


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_OFFSET = r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)"
_JODA = [
    ("yyyy", r"(?P<Y>\d{4})"),
    ("yy", r"(?P<y2>\d{2})"),
    ("y", r"(?P<Y>\d{1,4})"),
    ("MMMM", "MON"),
    ("MMM", "MON"),
    ("MM", r"(?P<m>\d{2})"),
    ("M", r"(?P<m>\d{1,2})"),
    ("dd", r"(?P<d>\d{2})"),
    ("d", r"(?P<d>\d{1,2})"),
    ("HH", r"(?P<H>\d{2})"),
    ("H", r"(?P<H>\d{1,2})"),
    ("hh", r"(?P<I>\d{2})"),
    ("h", r"(?P<I>\d{1,2})"),
    ("mm", r"(?P<M>\d{2})"),
    ("m", r"(?P<M>\d{1,2})"),
    ("ss", r"(?P<S>\d{2})"),
    ("s", r"(?P<S>\d{1,2})"),
    ("ZZZ", r"(?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)"),
    ("ZZ", _OFFSET),
    ("Z", _OFFSET),
    ("a", r"(?P<p>[AaPp][Mm])"),
    ("EEEE", r"[^\W\d_]+"),
    ("EEE", r"[^\W\d_]+"),
]
_STRF = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y2>\d{2})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "e": r"\s?(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "f": r"(?P<f>\d{1,9})",
    "z": _OFFSET,
    "Z": r"(?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)",
    "b": "MON",
    "h": "MON",
    "B": "MON",
    "a": r"[^\W\d_]+",
    "A": r"[^\W\d_]+",
    "p": r"(?P<p>[AaPp][Mm])",
    "T": r"(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2})",
    "F": r"(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})",
    "s": r"(?P<epoch>-?\d+)",
    "%": "%",
}
_ISO = re.compile(
    r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[Tt ](?P<H>\d{2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?\s*" + _OFFSET + "?"
)


def _month_regex(locale: str) -> tuple[str, dict[str, int]]:
    short, full = MONTHS[locale]
    names: dict[str, int] = {}
    for i, n in enumerate(short):
        names[n] = i + 1
        names[n.rstrip(".")] = i + 1
    for i, n in enumerate(full):
        names[n] = i + 1
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return rf"(?P<mon>(?i:{alts}))", names


def _joda_regex(fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "'":
            j = fmt.find("'", i + 1)
            if j < 0:
                raise FormatError(f"unterminated quote in {fmt!r}")
            out.append(re.escape(fmt[i + 1 : j]) if j > i + 1 else "'")
            i = j + 1
            continue
        if c == "S":
            j = i
            while j < len(fmt) and fmt[j] == "S":
                j += 1
            out.append(rf"(?P<f>\d{{1,{max(9, j - i)}}})")
            i = j
            continue
        if c.isalpha():
            for tok, rx in _JODA:
                if fmt.startswith(tok, i):
                    out.append(rx)
                    i += len(tok)
                    break
            else:
                raise FormatError(f"unknown pattern letter {c!r} in {fmt!r}")
            continue
        out.append(r"\s+" if c == " " else re.escape(c))
        i += 1
    return "".join(out)


def _strf_regex(fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in _STRF:
                raise FormatError(f"unknown directive in {fmt!r} at {i}")
            out.append(_STRF[fmt[i + 1]])
            i += 2
            continue
        out.append(r"\s+" if c == " " else re.escape(c))
        i += 1
    return "".join(out)


def _offset(tz: str) -> int:
    if tz in ("Z", "z"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    h = int(digits[:2])
    m = int(digits[2:4]) if len(digits) >= 4 else 0
    return sign * (h * 3600 + m * 60)


class _Zone:
    """The UTC offset of local times in a zone: fixed, or an IANA zone cached per hour."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fixed: int | None = None
        self.zone: Any = None
        self.cache: dict[tuple[int, int, int, int], int] = {}
        if name.upper() in ("UTC", "Z", "GMT", ""):
            self.fixed = 0
        elif re.fullmatch(r"[+-]\d{2}(:?\d{2})?", name):
            self.fixed = _offset(name)
        else:
            try:
                self.zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise FormatError(f"unknown timezone {name!r}") from exc

    def offset(self, y: int, m: int, d: int, h: int) -> int:
        if self.fixed is not None:
            return self.fixed
        key = (y, m, d, h)
        off = self.cache.get(key)
        if off is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            delta = datetime(y, m, d, h, tzinfo=self.zone).utcoffset() or timedelta(0)
            off = self.cache[key] = int(delta.total_seconds())
        return off


def compile_format(
    fmt: str, zone: _Zone, locale: str = "en", now: Callable[[], float] = time.time
) -> Callable[[str], float | None]:
    """A parser of one format: text → epoch seconds, or None when it does not match."""
    if fmt == "UNIX":

        def unix(s: str) -> float | None:
            try:
                v = float(s)
            except ValueError:
                return None
            return v if v == v and abs(v) < 1e12 else None

        return unix
    if fmt == "UNIX_MS":

        def unix_ms(s: str) -> float | None:
            try:
                v = float(s)
            except ValueError:
                return None
            return v / 1000.0 if v == v and abs(v) < 1e15 else None

        return unix_ms
    if fmt == "TAI64N":

        def tai64n(s: str) -> float | None:
            h = s[1:] if s.startswith("@") else s
            if len(h) != 24:
                return None
            try:
                sec = int(h[:16], 16) - (1 << 62) - 10
                ns = int(h[16:], 16)
            except ValueError:
                return None
            return sec + ns / 1e9

        return tai64n
    if fmt == "ISO8601":
        rx = _ISO
    else:
        body = _strf_regex(fmt) if "%" in fmt else _joda_regex(fmt)
        months: dict[str, int] = {}
        if "MON" in body:
            mon_rx, months = _month_regex(locale)
            body = body.replace("MON", mon_rx)
        try:
            rx = re.compile(body + r"\s*")
        except re.error as exc:
            raise FormatError(f"format {fmt!r}: {exc}") from exc
        if not any(g in rx.groupindex for g in ("d", "epoch")):
            raise FormatError(f"format {fmt!r} has no day")
    gi = rx.groupindex
    has_year = "Y" in gi or "y2" in gi
    names = months if fmt != "ISO8601" else {}
    fullmatch = rx.fullmatch
    days = days_from_civil
    if "epoch" in gi:
        ie = gi["epoch"]

        def epoch(s: str) -> float | None:
            mt = fullmatch(s)
            return float(mt.group(ie)) if mt is not None else None

        return epoch
    # the groups that fix the time down to the hour (a cache key, as text): the minutes,
    # seconds and fraction are added per line
    hour_groups = [n for n in ("Y", "y2", "mon", "m", "d", "H", "I", "p", "tz", "zone") if n in gi]
    pick = itemgetter(*[gi[n] - 1 for n in hour_groups])
    one = len(hour_groups) == 1
    i_min = gi["M"] - 1 if "M" in gi else -1
    i_sec = gi["S"] - 1 if "S" in gi else -1
    i_frac = gi["f"] - 1 if "f" in gi else -1
    cache: dict[Any, float | None] = {}

    def hour_base(vals: dict[str, str | None]) -> float | None:
        """Epoch seconds of the hour the groups name (None when they are not a time)."""
        try:
            mon_name = vals.get("mon")
            mon = names[mon_name.lower()] if mon_name is not None else int(vals.get("m") or 1)
            day = int(vals["d"] or 0)
            hour = int(vals.get("H") or 0)
            if vals.get("I") is not None:
                hour = int(vals["I"] or 0) % 12 + (12 if (vals.get("p") or "a")[0] in "pP" else 0)
            if not (1 <= mon <= 12 and 1 <= day <= 31 and hour < 24):
                return None
            if has_year:
                y = vals.get("Y")
                year = int(y) if y is not None else 2000 + int(vals["y2"] or 0)
            else:
                year = time.gmtime(now()).tm_year
            tz, zn = vals.get("tz"), vals.get("zone")
            if tz is not None:
                off = _offset(tz)
            elif zn is not None:
                off = _Zone(zn).offset(year, mon, day, hour)
            else:
                off = zone.offset(year, mon, day, hour)
            t = days(year, mon, day) * 86400 + hour * 3600 - off
            if not has_year:
                n = now()
                if t - n > 31 * 86400:  # a December line read in January
                    t = days(year - 1, mon, day) * 86400 + hour * 3600 - off
                elif n - t > 335 * 86400:  # a January line read in December
                    t = days(year + 1, mon, day) * 86400 + hour * 3600 - off
            return float(t)
        except (KeyError, ValueError, FormatError):
            return None

    def parse(s: str) -> float | None:
        mt = fullmatch(s)
        if mt is None:
            return None
        g = mt.groups()
        key = pick(g)
        if not has_year:
            key = (key, int(now()) // 3600)  # the inferred year follows the clock
        base = cache.get(key, -1.0)
        if base == -1.0:
            if len(cache) > 4096:
                cache.clear()
            vals = dict(
                zip(
                    hour_groups,
                    (key if has_year else key[0]) if not one else (g[gi[hour_groups[0]] - 1],),
                    strict=True,
                )
            )
            base = cache[key] = hour_base(vals)
        if base is None:
            return None
        t = base
        if i_min >= 0:
            v = g[i_min]
            if v is not None:
                mi = int(v)
                if mi >= 60:
                    return None
                t += mi * 60
        if i_sec >= 0:
            v = g[i_sec]
            if v is not None:
                se = int(v)
                if se > 60:
                    return None
                t += se
        if i_frac >= 0:
            f = g[i_frac]
            if f:
                t += int(f) / 10 ** len(f)
        return t

    return parse


class DateParser:
    """A list of formats tried in order; the last text's result is kept (lines of one
    second share their timestamp text)."""

    def __init__(
        self,
        formats: list[str],
        tz: str = "UTC",
        locale: str = "en",
        now: Callable[[], float] = time.time,
    ) -> None:
        if locale not in MONTHS:
            raise FormatError(f"unknown locale {locale!r} (known: {', '.join(MONTHS)})")
        zone = _Zone(tz)
        self.parsers = [compile_format(f, zone, locale, now) for f in formats]
        self._last_s: str | None = None
        self._last_t: float | None = None

    def parse(self, s: str) -> float | None:
        if s == self._last_s:
            return self._last_t
        t = None
        for p in self.parsers:
            t = p(s)
            if t is not None:
                break
        self._last_s, self._last_t = s, t
        return t


_ = timezone  # re-exported for tests that build zone-aware datetimes
