"""multiline on the tcp collector: per connection, presets, bounds, flush timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.testing import Harness, make_registry

JAVA = [
    'Exception in thread "main" java.lang.IllegalStateException: boom',
    "\tat com.example.App.run(App.java:10)",
    "\tat com.example.App.main(App.java:3)",
    "Caused by: java.io.IOException: disk",
    "\tat com.example.Disk.read(Disk.java:7)",
    "\t... 2 more",
]
PYTHON = [
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 3, in <module>',
    "    main()",
    "ValueError: bad value",
]


def pipeline(**opts: Any) -> dict[str, Any]:
    return {
        "collector": {"tcp": {"bind-host": "127.0.0.1", "bind-port": 0, **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["tcp"]}},
    }


async def test_two_connections_traces_are_joined_each_on_its_own() -> None:
    async with Harness(pipeline(multiline={"preset": "java", "timeout": "200ms"})) as h:
        port = h.plugin("tcp").address[1]
        _, a = await asyncio.open_connection("127.0.0.1", port)
        _, b = await asyncio.open_connection("127.0.0.1", port)
        # the two connections' lines interleave line by line
        for i, line in enumerate(JAVA):
            a.write(f"{line}\n".encode())
            await a.drain()
            b.write(f"b{i}\n".encode() if i % 2 else f"{line}\n".encode())
            await b.drain()
        a.write(b"after the trace\n")
        await a.drain()
        await h.wait_for(lambda: "after the trace" in h.texts(), what="the line after")
        await h.wait_for(lambda: len(h.captured("out")) >= 2, what="a's trace")
        a.close()
        b.close()
        # b's lines: no continuation lines joined with a's; its last is flushed at close
        await h.wait_for(lambda: any(t.startswith("b5") for t in h.texts()), what="b's last")
    by_text = {m.message: m for m in h.captured("out")}
    trace = "\n".join(JAVA)
    assert trace in by_text and by_text[trace].fields["lines"] == 6
    # b sent: JAVA[0], b1, JAVA[2] (joins b1? no: b1 does not continue), b3, JAVA[4], b5
    b_texts = [t for t in h.texts() if t != trace and t != "after the trace"]
    assert b_texts == [JAVA[0], f"b1\n{JAVA[2]}", f"b3\n{JAVA[4]}", "b5"]


async def test_python_preset_ends_at_the_error_line_and_timeout_flushes() -> None:
    async with Harness(pipeline(multiline={"preset": "python", "timeout": "200ms"})) as h:
        port = h.plugin("tcp").address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(("\n".join(["starting", *PYTHON, "next line"]) + "\n").encode())
        await w.drain()
        # "next line" stays pending while the connection is open: sent at the timeout
        await h.wait_for(lambda: "next line" in h.texts(), what="the flushed line")
        w.close()
    assert h.texts() == ["starting", "\n".join(PYTHON), "next line"]


async def test_an_unbounded_trace_is_cut_at_the_bounds_and_tagged() -> None:
    opts = {"preset": "java", "max-lines": 50, "max-bytes": "4KiB", "timeout": "100ms"}
    async with Harness(pipeline(multiline=opts)) as h:
        port = h.plugin("tcp").address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"Exception: many\n" + b"\tat x.y(Z.java:1)\n" * 10_000 + b"end\n")
        w.write(b"Exception: wide\n" + b"\tat " + b"w" * 10_000 + b"\nend2\n")
        await w.drain()
        w.close()
        await h.wait_for(lambda: "end2" in h.texts(), what="the last line")
    msgs = h.captured("out")
    assert [m.message.split("\n")[0] for m in msgs] == [
        "Exception: many",
        "end",
        "Exception: wide",
        "end2",
    ]
    many, _, wide, _ = msgs
    assert many.fields["lines"] == 50 and "_truncated" in many.tags
    assert len(wide.message.encode()) <= 4096 and "_truncated" in wide.tags
    assert wide.message.startswith("Exception: wide\n\tat www")


def test_unknown_preset_and_json_format_are_config_errors() -> None:
    head = "collector:\n  tcp: {bind-port: 0, %s}\nhandler:\n  o: {kind: log, inputs: [tcp]}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(head % "multiline: cobol", make_registry(), "q.yml")
    assert "cobol" in str(e.value) and "q.yml" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_config(head % "format: json, multiline: java", make_registry(), "q.yml")
    assert "multiline" in str(e.value)
