"""multiline on the gelf collector: UDP per container (Docker's gelf driver fields) and
level, TCP per connection; the timeout flushes the last message."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson

from qframe.testing import Harness

TRACE = [
    "java.lang.IllegalStateException: boom",
    "\tat a.B.c(B.java:1)",
    "\tat a.B.main(B.java:2)",
]


def pipeline(protocol: str, **opts: Any) -> dict[str, Any]:
    return {
        "collector": {"gelf": {"bind-host": "127.0.0.1", "port": 0, "protocol": protocol, **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["gelf"]}},
    }


def gelf(text: str, cid: str = "", level: int = 6) -> bytes:
    obj: dict[str, Any] = {"version": "1.1", "host": "node1", "short_message": text}
    obj["level"] = level
    if cid:
        obj |= {"_container_id": cid, "_container_name": f"c-{cid[:4]}"}
    return orjson.dumps(obj)


async def test_udp_lines_join_per_container_and_level_never_across() -> None:
    a, b = "a" * 64, "b" * 64
    ml = {"preset": "java", "timeout": "200ms"}
    async with Harness(pipeline("udp", multiline=ml)) as h:
        port = h.plugin("gelf").address[1]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for line in TRACE:  # two containers' traces and stderr lines interleave
            s.sendto(gelf(line, a), ("127.0.0.1", port))
            s.sendto(gelf(line, b), ("127.0.0.1", port))
            s.sendto(gelf("\tat stderr.only(X.java:1)", a, level=3), ("127.0.0.1", port))
        s.sendto(gelf("next a", a), ("127.0.0.1", port))
        s.close()
        await h.wait_for(lambda: len(h.captured("out")) == 4, what="4 messages")
    msgs = h.captured("out")
    joined = "\n".join(TRACE)
    of_a = [m.message for m in msgs if m.container and m.container.id == a and m.level == 6]
    of_b = [m.message for m in msgs if m.container and m.container.id == b]
    err = [m for m in msgs if m.level == 3]
    assert of_a == [joined, "next a"] and of_b == [joined]
    assert len(err) == 1 and err[0].message == "\n".join(["\tat stderr.only(X.java:1)"] * 3)
    assert err[0].fields["lines"] == 3


async def test_tcp_joins_per_connection_and_flushes_at_close() -> None:
    async with Harness(pipeline("tcp", multiline={"preset": "java", "max-lines": 2})) as h:
        port = h.plugin("gelf").address[1]
        _, w1 = await asyncio.open_connection("127.0.0.1", port)
        _, w2 = await asyncio.open_connection("127.0.0.1", port)
        for line in TRACE:
            w1.write(gelf(line) + b"\0")
            await w1.drain()
            w2.write(gelf(line.replace("B", "Z")) + b"\0")
            await w2.drain()
        w1.close()
        w2.close()
        await h.wait_for(lambda: len(h.captured("out")) == 2, what="both traces")
        assert h.plugin("gelf").metrics.counter("truncated") == 2
    texts = sorted(m.message for m in h.captured("out"))
    assert texts == ["\n".join(TRACE[:2]), "\n".join(TRACE[:2]).replace("B", "Z")]
    assert all("_truncated" in m.tags for m in h.captured("out"))
