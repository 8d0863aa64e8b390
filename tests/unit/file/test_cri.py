"""format: cri and docker-json: partial lines joined, times and streams, pod metadata,
hostile input (malformed lines, a partial line never completed, over-long lines)."""

from __future__ import annotations

from pathlib import Path

import orjson

from .helpers import append, harness

TS = "2026-12-05T20:23:49.435527013+00:00"
T0 = 1796502229.435527  # TS as seconds since the epoch


def cri(stream: str, flag: str, text: str, ts: str = TS) -> bytes:
    return f"{ts} {stream} {flag} {text}\n".encode()


def pod_log(tmp: Path, restart: int = 0) -> Path:
    d = tmp / "pods" / "shop_web-7d9f_0a1b2c3d-1111-2222-3333-444455556666" / "app"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{restart}.log"


async def test_partial_lines_are_joined_per_stream_with_time_stream_and_pod(
    tmp_path: Path,
) -> None:
    f = pod_log(tmp_path)
    big = "x" * (100 * 1024)
    chunks = [big[i : i + 8192] for i in range(0, len(big), 8192)]
    data = b"".join(
        [
            cri("stdout", "F", "first"),
            *(cri("stdout", "P", c) for c in chunks[:3]),
            cri("stderr", "F", "an error between the pieces"),
            *(cri("stdout", "P", c) for c in chunks[3:]),
            cri("stdout", "F", ""),  # Podman's closing F line can be empty
            cri("stderr", "F", "Z offset", ts="2026-12-05T20:23:50.5Z"),
        ]
    )
    f.write_bytes(data)
    async with harness(tmp_path, path=str(f), start_position="beginning", format="cri") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 4)
    first, err, whole, z = h.captured("out")
    assert (first.message, first.fields["stream"]) == ("first", "stdout")
    assert (err.message, err.fields["stream"]) == ("an error between the pieces", "stderr")
    assert whole.message == big and whole.fields["stream"] == "stdout"
    assert whole.fields["offset"] == len(cri("stdout", "F", "first"))  # its first piece
    assert abs(first.time - T0) < 1e-5 and abs(z.time - (T0 - 0.435527 + 1.5)) < 1e-5
    for m in (first, err, whole, z):
        assert m.container is not None and m.container.name == "app"
        assert m.container.labels == {
            "io.kubernetes.pod.namespace": "shop",
            "io.kubernetes.pod.name": "web-7d9f",
            "io.kubernetes.pod.uid": "0a1b2c3d-1111-2222-3333-444455556666",
            "io.kubernetes.container.name": "app",
            "io.kubernetes.container.restartCount": "0",
        }
        assert m.tags == []


async def test_malformed_lines_are_kept_tagged_and_counted(tmp_path: Path) -> None:
    f = tmp_path / "c.log"
    f.write_bytes(
        b"not a cri line\n"
        + b"2026-12-05T20:23:49Z stdin F wrong stream\n"
        + b"yesterday stdout F bad time\n"
        + b"2026-12-05T20:23:49Z stdout X bad flag\n"
        + cri("stdout", "F", "good")
    )
    async with harness(tmp_path, path=str(f), start_position="beginning", format="cri") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 5)
        assert h.plugin("files").metrics.counter("invalid_container_lines") == 4
    msgs = h.captured("out")
    assert msgs[0].message == "not a cri line" and "_criparsefailure" in msgs[0].tags
    assert msgs[4].message == "good" and msgs[4].tags == [] and msgs[4].container is None


async def test_a_partial_line_never_completed_is_sent_at_the_timeout_tagged(
    tmp_path: Path,
) -> None:
    f = tmp_path / "c.log"
    # raw lines are 86 bytes; the pieces of stdout make 160: cut at 100, tagged
    f.write_bytes(b"".join(cri("stdout", "P", c * 40) for c in "abcd"))
    async with harness(
        tmp_path,
        path=str(f),
        start_position="beginning",
        format="cri",
        partial_timeout="200ms",
        max_line_bytes="100",
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
        append(f, cri("stdout", "F", "next"))
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        assert h.plugin("files").metrics.counter("partial_flushed") == 1
    held, nxt = h.captured("out")
    assert held.message == "a" * 40 + "b" * 40 + "c" * 20
    assert "_partial" in held.tags and "_truncated" in held.tags
    assert nxt.message == "next" and nxt.tags == []


async def test_a_held_partial_line_is_not_committed(tmp_path: Path) -> None:
    f = tmp_path / "c.log"
    f.write_bytes(cri("stdout", "F", "done") + cri("stdout", "P", "held"))
    async with harness(tmp_path, path=str(f), start_position="beginning", format="cri") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
        (tailer,) = h.plugin("files").tailers.values()
        await h.wait_for(lambda: tailer.progress.committed == len(cri("stdout", "F", "done")))
    assert tailer.cri is not None and tailer.cri.pending_start == len(cri("stdout", "F", "done"))


async def test_docker_json_files_join_the_16k_splits(tmp_path: Path) -> None:
    f = tmp_path / "abc-json.log"
    t = "2026-12-05T20:23:49.435527013Z"
    big = "y" * 40000
    rows = [{"log": "hello\n", "stream": "stdout", "time": t}]
    rows += [
        {"log": big[i : i + 16384], "stream": "stderr", "time": t} for i in range(0, 32768, 16384)
    ]
    rows += [{"log": big[32768:] + "\n", "stream": "stderr", "time": t}]
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"{broken\n")
    async with harness(
        tmp_path, path=str(f), start_position="beginning", format="docker-json"
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 3)
    hello, long, broken = h.captured("out")
    assert (hello.message, hello.fields["stream"]) == ("hello", "stdout")
    assert abs(hello.time - T0) < 1e-5
    assert long.message == big and long.fields["stream"] == "stderr"
    assert "_criparsefailure" in broken.tags


async def test_multiline_joins_whole_cri_lines(tmp_path: Path) -> None:
    f = tmp_path / "c.log"
    f.write_bytes(
        cri("stdout", "F", "java.lang.Error: x")
        + cri("stdout", "P", "\tat a.B")
        + cri("stdout", "F", ".c(B.java:1)")
        + cri("stdout", "F", "next")
    )
    async with harness(
        tmp_path, path=str(f), start_position="beginning", format="cri", multiline="java"
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 1)
    (m,) = h.captured("out")[:1]
    assert m.message == "java.lang.Error: x\n\tat a.B.c(B.java:1)" and m.fields["lines"] == 2
    assert m.fields["stream"] == "stdout" and abs(m.time - T0) < 1e-5


async def test_multiline_joins_each_stream_on_its_own(tmp_path: Path) -> None:
    """stdout and stderr interleave in a container log file, inside their traces too:
    each stream's lines are joined with that stream's only (a piece split in P lines
    among them), each trace carries its first line's time and stream; a trace held at
    the end of the file keeps the commit point before its first line until the timeout
    sends it (the other stream's held line too), tagged with nothing."""
    t1 = "2026-12-05T20:23:50.000000001Z"
    f = tmp_path / "c.log"
    f.write_bytes(
        cri("stdout", "F", "java.lang.IllegalStateException: out")
        + cri("stderr", "F", "Traceback (most recent call last):", t1)
        + cri("stdout", "F", "\tat a.B.c(B.java:1)")
        + cri("stderr", "F", '  File "x.py", line 1, in <module>', t1)
        + cri("stdout", "P", "\tat a.B.")
        + cri("stderr", "F", "    raise KeyError(k)", t1)
        + cri("stdout", "F", "d(B.java:2)")
        + cri("stdout", "F", "Caused by: java.io.IOException: gone")
        + cri("stderr", "F", "KeyError: 'k'", t1)
        + cri("stdout", "F", "\tat a.C.e(C.java:3)")
        + cri("stderr", "F", "plain stderr line", t1)
        + cri("stdout", "F", "plain stdout line")
    )
    size = f.stat().st_size
    mline = {"pattern": "^(\\s|Caused by:|  File|    |[A-Za-z]+Error:)", "timeout": "300ms"}
    async with harness(
        tmp_path, path=str(f), start_position="beginning", format="cri", multiline=mline
    ) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        (tailer,) = h.plugin("files").tailers.values()
        await h.wait_for(lambda: tailer.progress.committed == size)
    by_stream: dict[str, list] = {"stdout": [], "stderr": []}
    for m in h.captured("out"):
        by_stream[m.fields["stream"]].append(m)
    (java, out_plain), (py, err_plain) = by_stream["stdout"], by_stream["stderr"]
    assert java.message == (
        "java.lang.IllegalStateException: out\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\n"
        "Caused by: java.io.IOException: gone\n\tat a.C.e(C.java:3)"
    )
    assert java.fields["lines"] == 5 and java.fields["offset"] == 0
    assert py.message == (
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "    raise KeyError(k)\nKeyError: 'k'"
    )
    assert py.fields["lines"] == 4 and abs(py.time - (T0 - 0.435527 + 1)) < 1e-5
    assert abs(java.time - T0) < 1e-5
    assert out_plain.message == "plain stdout line" and err_plain.message == "plain stderr line"
    assert all(m.tags == [] and m.container is None for m in h.captured("out"))
    assert not tailer.mline._held["stdout"] and not tailer.mline._held["stderr"]


async def test_messages_of_one_read_do_not_share_their_source_path(tmp_path: Path) -> None:
    f = tmp_path / "c.log"
    f.write_bytes(cri("stdout", "F", "one") + cri("stderr", "F", "two"))
    async with harness(tmp_path, path=str(f), start_position="beginning", format="cri") as h:
        await h.wait_for(lambda: len(h.captured("out")) == 2)
    a, b = h.captured("out")
    assert a.source_path == ["files", "out"] and b.source_path == ["files", "out"]


async def test_lines_of_one_timestamp_shape_are_read_as_each_line_alone(tmp_path: Path) -> None:
    """A read of many F lines takes those whose timestamp has the shape of the last one
    parsed by slicing (the bench's path): each message is what the line gives alone —
    time, text, stream, offset, id — across changes of second, fraction length, zone, and
    lines that only look alike (a non-digit in the fraction, a P line, a bad flag)."""
    from qframe.plugins.collectors.file.cri import ns_time
    from qframe.rfc3339 import parse_ts_ns

    stamps = [
        "2026-12-05T20:23:49.435527013+00:00",
        "2026-12-05T20:23:49.435527014+00:00",
        "2026-12-05T20:23:49.000000001+00:00",
        "2026-12-05T20:23:50.999999999+00:00",
        "2026-12-05T20:23:50.5+00:00",
        "2026-12-05T20:23:50.7+00:00",
        "2026-12-05T20:23:50.7-05:30",
        "2026-12-05T20:23:50.123456Z",
        "2026-12-05T20:23:50.123457z",
        "2026-12-05T20:23:50.12a457Z",
        "2026-12-05T20:23:50Z",
        "2026-12-05T20:23:51.435527013+00:00",
        "2026-12-05T20:23:51.435527013+01:00",
    ]
    lines = []
    for i, ts in enumerate(stamps):
        stream = "stdout" if i % 3 else "stderr"
        lines += [cri(stream, "F", f"line {i} {ts}", ts), cri(stream, "F", "", ts)]
    lines.insert(5, b"2026-12-05T20:23:49.435527015+00:00 stdout X not a flag\n")
    lines += [cri("stdout", "P", "a piece "), cri("stdout", "F", "and its end")]
    lines += [cri("stderr", "F", "after the piece", stamps[0])]
    f = tmp_path / "c.log"
    f.write_bytes(b"".join(lines))
    async with harness(tmp_path, path=str(f), start_position="beginning", format="cri") as h:
        await h.wait_for(lambda: len(h.captured("out")) == len(lines) - 1)
    got = h.captured("out")
    offset = 0
    expected = []
    malformed = []
    for raw in lines:
        text = raw.decode()[:-1]
        ts, stream, flag, body = text.split(" ", 3)
        ns = parse_ts_ns(ts.encode())
        t = None if ns is None else ns_time(ns)
        if t is None or flag not in ("P", "F"):
            malformed.append(offset)
        elif flag == "F" and "its end" not in body:
            expected.append((body, t, stream, offset, []))
        offset += len(raw)
    assert len(malformed) == 3 and len(expected) == len(lines) - 5
    by_offset = {m.fields["offset"]: m for m in got}
    for body, t, stream, off, tags in expected:
        m = by_offset[off]
        assert (m.message, m.time, m.fields["stream"], m.tags) == (body, t, stream, tags)
        assert m.id.endswith(f"-{off}") and m.fields["path"] == str(f)
    joined = [m for m in got if m.message == "a piece and its end"]
    assert len(joined) == 1 and joined[0].fields["stream"] == "stdout"
    bad = [m for m in got if "_criparsefailure" in m.tags]
    assert [m.fields["offset"] for m in bad] == malformed


def test_stream_joiners_hold_the_commit_point_before_the_first_held_line() -> None:
    """StreamLines (the file collector's joiners): the earliest held line of any stream
    is the commit point; a timeout flushes only the streams idle for it, in file order,
    each message with the meta of its first line."""
    from qframe.plugins.collectors.file.multiline import StreamLines
    from qframe.plugins.common.multiline import MultilineOptions

    sl = StreamLines(MultilineOptions(pattern="^\\s", timeout=5))
    out: list = []
    sl.feed("Error: a", 0, 10, out, stream="stdout", meta="m0")
    sl.feed("Error: b", 10, 20, out, stream="stderr", meta="m10")
    sl.feed("  at x", 20, 30, out, stream="stdout", meta="m20")
    sl.feed("  at y", 30, 40, out, stream="stderr", meta="m30")
    assert out == [] and sl.pending_start == 0
    sl.feed("next", 40, 50, out, stream="stdout", meta="m40")
    assert out == [(("Error: a\n  at x", 0, 30, False, 2), "m0")]
    assert sl.pending_start == 10  # stderr's trace, before stdout's "next"
    stderr = sl.joiners["stderr"]
    stderr.last_line_at -= 10  # stderr idle for longer than the timeout, stdout not
    due = sl.due()
    assert due is not None and due < sl.joiners["stdout"].last_line_at
    assert sl.flush(older_than=stderr.last_line_at + 1) == [
        (("Error: b\n  at y", 10, 40, False, 2), "m10")
    ]
    assert sl.pending_start == 40
    assert sl.flush() == [(("next", 40, 50, False, 1), "m40")]
    assert sl.pending_start is None and sl.due() is None
    assert sl._held == {"stdout": {}, "stderr": {}}


def test_qframe_test_joins_cri_lines_per_stream_as_the_collector_does() -> None:
    """``qframe test`` decodes a file collector's input lines as it reads them: the
    pieces of a line joined, then multiline per stream."""
    from qframe.ops.testfile import decode_lines
    from qframe.plugins.collectors.file.options import FileOptions

    opts = FileOptions.model_validate({"path": "/x/*.log", "format": "cri", "multiline": "java"})
    lines = [
        cri("stdout", "F", "java.lang.Error: out").decode()[:-1],
        cri("stderr", "F", "java.lang.Error: err").decode()[:-1],
        cri("stdout", "P", "\tat a.").decode()[:-1],
        cri("stderr", "F", "\tat e.E.e(E.java:9)").decode()[:-1],
        cri("stdout", "F", "B.c(B.java:1)").decode()[:-1],
        cri("stdout", "F", "done").decode()[:-1],
    ]
    got = [(d["message"], d["fields"]["stream"]) for d in decode_lines(opts, lines)]
    assert got == [
        ("java.lang.Error: out\n\tat a.B.c(B.java:1)", "stdout"),
        ("java.lang.Error: err\n\tat e.E.e(E.java:9)", "stderr"),
        ("done", "stdout"),
    ]
