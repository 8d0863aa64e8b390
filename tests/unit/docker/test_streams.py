"""Log-frame and JSON-lines decoding, on bytes as the engines send them."""

from __future__ import annotations

import calendar
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qframe.docker.client import DockerProtocolError
from qframe.docker.streams import STDERR, STDOUT, JsonLines, LogDecoder, LogLine, parse_ts_ns

T0 = "2026-11-26T05:33:06Z"
T0_NS = calendar.timegm(time.strptime("2026-11-26T05:33:06", "%Y-%m-%dT%H:%M:%S")) * 10**9


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def entry(text: str, ts: str = T0, nl: bool = True) -> bytes:
    return f"{ts} {text}".encode() + (b"\n" if nl else b"")


def test_timestamps_of_any_precision_and_offset_parse_to_nanoseconds() -> None:
    assert parse_ts_ns(b"2026-11-26T05:33:06Z") == T0_NS
    assert parse_ts_ns(b"2026-11-26T05:33:06.123456789Z") == T0_NS + 123456789
    assert parse_ts_ns(b"2026-11-26T05:33:06.5Z") == T0_NS + 500_000_000
    assert parse_ts_ns(b"2026-11-26T06:33:06.000001+01:00") == T0_NS + 1000
    assert parse_ts_ns(b"2026-11-26T04:03:06-01:30") == T0_NS
    for bad in (b"", b"hello world", b"2026-11-26T05:33:06", b"2026-13-26T05:33:06Z", b"2026-"):
        assert parse_ts_ns(bad) is None


def test_stdout_and_stderr_frames_become_lines_tagged_with_their_stream() -> None:
    data = frame(1, entry("out one")) + frame(2, entry("err one")) + frame(1, entry("out two"))
    lines = LogDecoder().feed(data)
    assert lines == [
        LogLine(STDOUT, T0_NS, b"out one"),
        LogLine(STDERR, T0_NS, b"err one"),
        LogLine(STDOUT, T0_NS, b"out two"),
    ]


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_frames_cut_anywhere_across_reads_decode_the_same(cuts: list[int]) -> None:
    data = b"".join(frame(1 + i % 2, entry(f"line {i} " + "x" * i)) for i in range(12))
    dec = LogDecoder()
    out: list[LogLine] = []
    pos = 0
    for c in cuts:
        out += dec.feed(data[pos : pos + c])
        pos += c
    out += dec.feed(data[pos:])
    assert dec.pending == 0
    assert [ln.text for ln in out] == [f"line {i} ".encode() + b"x" * i for i in range(12)]
    assert [ln.stream for ln in out] == [1 + i % 2 for i in range(12)]


def test_a_line_split_by_the_engine_is_joined_with_the_first_pieces_timestamp() -> None:
    later = "2026-11-26T05:33:07Z"
    data = (
        frame(1, entry("a" * 8192, nl=False))
        + frame(2, entry("interleaved stderr"))
        + frame(1, entry("b" * 8192, ts=later, nl=False))
        + frame(1, entry("", ts=later))  # Podman ends a split line with an empty piece
        + frame(1, entry("next"))
    )
    lines = LogDecoder().feed(data)
    assert lines[0] == LogLine(STDERR, T0_NS, b"interleaved stderr")
    assert lines[1] == LogLine(STDOUT, T0_NS, b"a" * 8192 + b"b" * 8192)
    assert lines[2].text == b"next"


def test_a_joined_line_longer_than_the_limit_is_cut_and_marked() -> None:
    dec = LogDecoder(max_line=100)
    lines = dec.feed(frame(1, entry("a" * 80, nl=False)) + frame(1, entry("b" * 80)))
    assert lines == [LogLine(STDOUT, T0_NS, b"a" * 80 + b"b" * 20, True)]
    (single,) = dec.feed(frame(1, entry("c" * 150)))
    assert single.truncated and single.text == b"c" * 100


def test_several_entries_in_one_frame_are_several_lines() -> None:
    lines = LogDecoder().feed(frame(1, entry("one") + entry("two")))
    assert [ln.text for ln in lines] == [b"one", b"two"]


def test_a_tty_stream_has_no_headers_and_crlf_line_ends() -> None:
    dec = LogDecoder(tty=True)
    data = f"{T0} hello\r\n{T0} wor".encode()
    assert dec.feed(data) == [LogLine(STDOUT, T0_NS, b"hello")]
    assert dec.feed(b"ld\r\n") == [LogLine(STDOUT, T0_NS, b"world")]


def test_a_line_without_a_timestamp_keeps_its_text_and_is_counted() -> None:
    dec = LogDecoder()
    lines = dec.feed(frame(1, entry("stamped")) + frame(1, b"no stamp here\n"))
    assert [ln.text for ln in lines] == [b"stamped", b"no stamp here"]
    assert lines[1].ts_ns == T0_NS  # the previous line's
    assert dec.bad_timestamps == 1


def test_a_garbage_header_is_a_protocol_error() -> None:
    with pytest.raises(DockerProtocolError):
        LogDecoder().feed(b"HTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(DockerProtocolError):
        LogDecoder().feed(bytes([1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]))


def test_a_stream_that_ends_inside_a_frame_is_a_protocol_error_after_its_whole_lines() -> None:
    dec = LogDecoder()
    data = frame(1, entry("whole")) + frame(1, entry("cut short"))[:-4]
    assert [ln.text for ln in dec.feed(data)] == [b"whole"]
    with pytest.raises(DockerProtocolError):
        dec.close()


def test_an_unfinished_split_line_is_returned_at_the_end_of_the_stream() -> None:
    dec = LogDecoder()
    assert dec.feed(frame(1, entry("half", nl=False))) == []
    assert dec.close() == [LogLine(STDOUT, T0_NS, b"half")]


def test_json_lines_skip_and_count_garbage_and_keep_the_objects() -> None:
    dec = JsonLines()
    out = dec.feed(b'{"a": 1}\nnot json\n[1, 2]\n{"b"')
    assert out == [{"a": 1}]
    assert dec.errors == 2
    assert dec.feed(b": 2}\n") == [{"b": 2}]
    assert dec.feed(b'{"c": 3}') == []
    assert dec.close() == [{"c": 3}]


def test_json_lines_without_any_newline_are_refused_past_the_limit() -> None:
    dec = JsonLines(max_line=100)
    with pytest.raises(DockerProtocolError):
        dec.feed(b"x" * 200)


def test_an_empty_frame_is_no_line_and_the_next_frame_decodes() -> None:
    d = LogDecoder()
    empty = bytes([1, 0, 0, 0, 0, 0, 0, 0])
    line = b"2026-11-26T05:00:00.000000001Z hi\n"
    framed = bytes([2, 0, 0, 0]) + len(line).to_bytes(4, "big") + line
    assert d.feed(empty + framed) == [LogLine(2, 1795669200_000000001, b"hi")]


def test_consecutive_timestamps_of_one_second_and_then_another_parse_exactly() -> None:
    d = LogDecoder()
    stamps = [
        b"2026-11-26T05:00:00.000000001Z",
        b"2026-11-26T05:00:00.999999999Z",
        b"2026-11-26T05:00:00.5Z",
        b"2026-11-26T05:00:01.000000000Z",
        b"2026-11-26T05:00:01.000000002+01:00",
    ]
    data = b""
    for i, ts in enumerate(stamps):
        payload = ts + b" l%d\n" % i
        data += bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
    got = [ln.ts_ns for ln in d.feed(data)]
    assert got == [parse_ts_ns(ts) for ts in stamps]
    assert got[:4] == [
        1795669200_000000001,
        1795669200_999999999,
        1795669200_500000000,
        1795669201_000000000,
    ]
    assert got[4] == 1795669201_000000002 - 3600 * 10**9


def test_a_long_frame_arriving_in_many_small_reads_is_one_line() -> None:
    d = LogDecoder()
    text = b"x" * 500_000
    payload = b"2026-11-26T05:00:00.000000001Z " + text + b"\n"
    data = bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload
    got = []
    for i in range(0, len(data), 4096):
        got += d.feed(data[i : i + 4096])
    assert got == [LogLine(1, 1795669200_000000001, text)] and d.pending == 0
