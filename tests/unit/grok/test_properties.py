"""Property tests: generated addresses, numbers and timestamps are captured exactly."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.grok import Grok

from .examples import EXAMPLES

IP = Grok("from %{IP:ip} port")
IPV4 = Grok("from %{IPV4:ip} port")
IPV6 = Grok("from %{IPV6:ip} port")
HOST = Grok("from %{IPORHOST:ip} port")
INT = Grok("n=%{INT:n:int};")
NUMBER = Grok("x=%{NUMBER:x};")
NUMBER_F = Grok("x=%{NUMBER:x:float};")
ISO = Grok("ts=%{TIMESTAMP_ISO8601:ts} level")

FAST = settings(max_examples=300, deadline=None)


@FAST
@given(st.ip_addresses(v=4))
def test_generated_ipv4_addresses_are_captured_exactly(ip: ipaddress.IPv4Address) -> None:
    line = f"from {ip} port 22"
    for g in (IPV4, IP, HOST):
        assert g.match(line) == {"ip": str(ip)}


@FAST
@given(st.ip_addresses(v=6), st.booleans())
def test_generated_ipv6_addresses_are_captured_exactly(
    ip: ipaddress.IPv6Address, exploded: bool
) -> None:
    text = ip.exploded if exploded else str(ip)
    line = f"from {text} port 22"
    for g in (IPV6, IP, HOST):
        assert g.match(line) == {"ip": text}


@FAST
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_generated_integers_are_captured_and_converted_exactly(n: int) -> None:
    assert INT.match(f"n={n};") == {"n": n}


@FAST
@given(
    st.sampled_from(["", "-", "+"]),
    st.integers(min_value=0, max_value=10**15),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=12)),
)
def test_generated_decimal_numbers_are_captured_exactly(
    sign: str, whole: int, frac: str | None
) -> None:
    text = f"{sign}{whole}" + (f".{frac}" if frac is not None else "")
    assert NUMBER.match(f"x={text};") == {"x": text}
    assert NUMBER_F.match(f"x={text};") == {"x": float(text)}


@FAST
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["T", " "]),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
    st.one_of(st.none(), st.just("Z"), st.integers(min_value=-23 * 60, max_value=23 * 60)),
)
def test_generated_iso8601_timestamps_are_captured_exactly(
    dt: datetime, sep: str, spec: str, tz: int | str | None
) -> None:
    if isinstance(tz, int):
        text = dt.replace(tzinfo=timezone(timedelta(minutes=tz))).isoformat(sep, spec)
    else:
        text = dt.replace(tzinfo=None).isoformat(sep, spec) + (tz or "")
    assert ISO.match(f"ts={text} level=info") == {"ts": text}


def test_a_utc_timestamp_from_now_is_captured_exactly() -> None:
    text = datetime.now(UTC).isoformat()
    assert ISO.match(f"ts={text} level=info") == {"ts": text}


_LIBRARY_NAMES = sorted(n for n in EXAMPLES)
_GROKS: dict[str, Grok] = {}
_ALPHABET = "".join(sorted({c for good, _ in EXAMPLES.values() for ex in good for c in ex}))


def _grok(name: str) -> Grok:
    if name not in _GROKS:
        _GROKS[name] = Grok(f"%{{{name}}}")
    return _GROKS[name]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_LIBRARY_NAMES),
    st.lists(
        st.sampled_from([ex for good, _ in EXAMPLES.values() for ex in good if ex]), max_size=3
    ),
    st.text(_ALPHABET + "é\u00a0\u4e00", max_size=40),
)
def test_both_engines_find_the_same_match_on_any_text(
    name: str, pieces: list[str], noise: str
) -> None:
    text = noise.join(pieces) if pieces else noise
    g = _grok(name)
    assert g.fast is not None
    fast, slow = g.fast.search(text), g.slow.search(text)
    assert (fast is None) == (slow is None)
    if fast is not None:
        assert fast.span() == slow.span() and fast.groups() == slow.groups()
