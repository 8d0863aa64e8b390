"""format: cri's fast path (a read of ASCII lines: :func:`ascii_cri`, lines of one header
shape taken by slicing, seconds cached) against the general parse (each raw line through
:meth:`ContainerLines.take`): the same messages — text, offset, time, stream, tags — for
any lines, whatever their seconds, fraction lengths (0–9 digits, and more), zones, streams,
pieces and malformed lines; times to the nanosecond (the float nearest to the line's ns)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qframe.message import Delivery, Message, format_time, format_times
from qframe.plugins.collectors.file.cri import (
    MIN_BASE,
    ContainerLines,
    Line,
    ascii_cri,
    ns_time,
)
from qframe.plugins.collectors.file.tailer import Tailer
from qframe.rfc3339 import parse_ts_ns

NOW = 1_700_000_000.25


class _Metrics:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def inc(self, name: str, n: int = 1, **_: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def tailer(limit: int) -> Tailer:
    """A tailer with only what turning a read into messages needs."""
    t = Tailer.__new__(Tailer)
    t.coll = SimpleNamespace(host="h", name="files", metrics=_Metrics())  # type: ignore[assignment]
    t.path = "/var/log/pods/ns_pod_uid/app/0.log"
    t.limit = limit
    t.mline = None
    t._id_prefix = "id-"
    t.cri = ContainerLines("cri", limit)
    t.container = None
    return t


def general(lines: list[str], limit: int) -> tuple[list[tuple[Any, ...]], ContainerLines]:
    """What each line gives through ContainerLines.take, as (text, offset, time, stream, tags)."""
    cl = ContainerLines("cri", limit)
    got: list[Line] = []
    pos = 0
    for ln in lines:
        if ln:
            cl.take(ln, pos, got)
        pos += len(ln) + 1
    out = []
    for text, off, t, stream, cut, tags in got:
        out.append(
            (text, off, NOW if t is None else t, stream, [*tags, *(["_truncated"] if cut else [])])
        )
    return out, cl


def fast(lines: list[str], limit: int, cut_at: int) -> tuple[list[Message], ContainerLines]:
    """The same lines in two reads (split at line ``cut_at``) through ascii_cri."""
    t = tailer(limit)
    out: list[Message] = []
    pos = 0
    for part in (lines[:cut_at], lines[cut_at:]):
        if not part:
            continue
        data = "\n".join(part).encode("ascii")
        ascii_cri(t, data, pos, NOW, Delivery(0, None), out)
        pos += len(data) + 1
    assert t.cri is not None
    return out, t.cri


def stamp(sec: int, digits: str, zone: str) -> str:
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return head + (f".{digits}" if digits else "") + zone


ZONES = ["Z", "z", "+00:00", "-05:30", "+01:00", "+14:00"]
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24)


@st.composite
def cri_lines(draw: st.DrawFn) -> list[str]:
    # a few seconds, so that runs of one second (and of one shape) are common
    seconds = draw(st.lists(st.integers(MIN_BASE - 100, 4_000_000_000), min_size=1, max_size=3))
    lines = []
    for _ in range(draw(st.integers(1, 40))):
        sec = draw(st.sampled_from(seconds))
        digits = draw(st.text("0123456789", min_size=0, max_size=11))
        ts = stamp(sec, digits, draw(st.sampled_from(ZONES)))
        stream = draw(st.sampled_from(["stdout", "stderr"]))
        flag = draw(st.sampled_from(["F", "F", "F", "P"]))
        text = draw(TEXT)
        kind = draw(st.integers(0, 19))
        if kind == 0:  # malformed in one of the ways the fast path checks
            line = draw(
                st.sampled_from(
                    [
                        text,
                        f"{ts} stdin F {text}",
                        f"{ts} {stream} X {text}",
                        f"{ts[:20]}1a3{ts[23:]} {stream} F {text}",
                        f"{ts.replace('T', ' ')} {stream} F {text}",
                        f"{ts[:-1]}Q {stream} F {text}",
                        "",
                    ]
                )
            )
        elif kind == 1:  # Podman's empty closing F line, with and without its space
            line = f"{ts} {stream} F" + draw(st.sampled_from(["", " "]))
        else:
            line = f"{ts} {stream} {flag} {text}"
        lines.append(line)
    return lines


def check(lines: list[str], limit: int, cut_at: int) -> None:
    want, cl_general = general(lines, limit)
    msgs, cl_fast = fast(lines, limit, cut_at)
    got = [(m.message, m.fields["offset"], m.time, m.fields["stream"], m.tags) for m in msgs]
    assert got == want
    for m in msgs:
        assert m.id == f"id-{m.fields['offset']}" and m.fields["path"].endswith("0.log")
    # the pieces still held are the same
    held = {s: (p.start, p.ts, p.parts, p.cut) for s, p in cl_fast.pieces.items()}
    assert held == {s: (p.start, p.ts, p.parts, p.cut) for s, p in cl_general.pieces.items()}
    # times to the nanosecond: the float nearest to the stamp's ns
    at: dict[int, str] = {}
    pos = 0
    for ln in lines:
        at[pos] = ln
        pos += len(ln) + 1
    for m in msgs:
        if "_criparsefailure" in m.tags:
            continue
        ns = parse_ts_ns(at[m.fields["offset"]].split(" ", 1)[0].encode())
        assert ns is not None and m.time == ns_time(ns)
        # no float is nearer: within half a step of the floats around it (exact arithmetic)
        half = Fraction(math.ulp(m.time)) / 2
        assert abs(Fraction(m.time) - Fraction(ns, 1_000_000_000)) <= half


@settings(max_examples=300, deadline=None)
@given(cri_lines(), st.sampled_from([8, 16, 64, 1 << 20]), st.integers(0, 40))
@example(
    [
        "2026-12-05T20:23:49.435527013+00:00 stdout F a",
        "2026-12-05T20:23:49.435527014+00:00 stdout P pie",
        "2026-12-05T20:23:49.435527015+00:00 stderr F between",
        "2026-12-05T20:23:49.435527016+00:00 stdout F ce",
        "2026-12-05T20:23:50.5Z stdout F other shape",
        "2026-12-05T20:23:50.999999999Z stdout F",
    ],
    1 << 20,
    2,
)
def test_the_fast_path_gives_what_each_line_gives_alone(
    lines: list[str], limit: int, cut_at: int
) -> None:
    check(lines, limit, cut_at)


def test_a_uniform_read_with_pieces_is_the_general_parse() -> None:
    """The bench's shape: conmon's (9 digits, +00:00), a piece every few lines, across
    seconds and two reads."""
    lines = []
    for i in range(3000):
        ts = f"2026-12-05T20:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i * 7919:09d}+00:00"
        if i % 7 == 0:
            lines += [f"{ts} stdout P line {i} ", f"{ts} stdout F and its end"]
        else:
            lines.append(f"{ts} {'stderr' if i % 5 == 0 else 'stdout'} F line {i}")
    for cut_at in (0, 1, 1500):
        check(lines, 1 << 20, cut_at)


def test_a_piece_and_its_end_each_within_the_limit_but_longer_joined() -> None:
    """No line of the read is longer than the limit, the read is: the piece held and its
    end are joined, cut and tagged as the general parse does."""
    ts = "2026-12-05T20:23:49.435527013+00:00"
    lines = [
        f"{ts} stdout F {'a' * 20}",
        f"{ts} stdout P {'b' * 54}",
        f"{ts} stderr F {'c' * 54}",
        f"{ts} stdout F {'d' * 54}",
        f"{ts} stdout P {'e' * 10}",
        f"{ts} stdout F {'f' * 10}",
    ]
    limit = max(map(len, lines))
    assert limit == 99
    for cut_at in (0, 2, 4):
        check(lines, limit, cut_at)
    msgs, _ = fast(lines, limit, 0)
    assert [m.message for m in msgs] == [
        "a" * 20,
        "c" * 54,
        ("b" * 54 + "d" * 54)[:limit],
        "e" * 10 + "f" * 10,
    ]
    assert [m.tags for m in msgs] == [[], [], ["_truncated"], []]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 4e9, allow_nan=False) | st.integers(0, 4_000_000_000), max_size=30))
def test_format_times_is_format_time_of_each(times: list[float]) -> None:
    ts = [float(t) for t in times]
    ts += [t + 1e-7 for t in ts[:3]] + ts[:2]  # repeats and near neighbours
    assert format_times(ts) == [format_time(t) for t in ts]


def test_format_times_at_the_edges_of_a_second() -> None:
    """Microseconds that round up to the next second, ties of half a microsecond, the
    first and last float of a second, times in order and out of it."""
    ts = []
    for sec in (0, 1, 1_796_500_800, 4_000_000_000):
        ts += [sec + f for f in (0.0, 0.9999994, 0.9999995, 0.9999996, 5e-7, 1.5e-6, 2.5e-6)]
        ts += [math.nextafter(float(sec + 1), 0.0), float(sec + 1), float(sec)]
    ts += [1_796_500_800 + k * 2.0**-21 for k in range(2000)]
    got = format_times(ts)
    assert got == [format_time(t) for t in ts]
    assert got[:3] == [
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01T00:00:00.999999Z",
        "1970-01-01T00:00:01.000000Z",
    ]


@pytest.mark.parametrize("t", [-1.0, -0.5, -1.25, -86_400.000001, -1e-7, -0.9999996, 0.0])
def test_a_time_before_1970_is_formatted_from_the_second_below_it(t: float) -> None:
    """int() truncates toward zero: -0.5 once came out as "…T00:00:00.-500000Z", and -1.0
    as "" (the cache's initial time); the reference is datetime's own arithmetic."""
    ref = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=round(t * 1_000_000))
    want = ref.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_time(t) == want
    assert format_times([t, t]) == [want, want]
