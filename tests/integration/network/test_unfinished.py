"""Unfinished lines (tcp) and frames (GELF over TCP) within the connections' buffer budget.

Regression of issue #21, defect 1: peers that send a long line (frame) and never its end
held memory without limit, uncounted (``qframe_buffered_bytes`` read 0).  Here 30 peers
each hold 150 KiB of an unfinished line with ``max-buffer-bytes: 1MiB``: at most half of
the budget stays held in unfinished lines, the largest are discarded and counted, the
gauges tell what is held, complete lines from others still flow, and each peer's next
line after the discarded one arrives whole.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from qframe.testing import Harness, metric_value, scrape_metrics

from .helpers import http_config

PEERS = 30
HELD = 150 << 10  # each peer's unfinished line: under max-line-bytes, so never cut by it
BUDGET = 1 << 20
ONE_READ = 256 << 10  # the most one read of a socket delivers


def pipeline(kind: str) -> dict[str, Any]:
    if kind == "tcp":
        opts = {"kind": "tcp", "bind-port": 0, "max-line-bytes": "200KiB"}
    else:
        opts = {"kind": "gelf", "port": 0, "protocol": "tcp", "max-message-bytes": "200KiB"}
    return {
        "collector": {"net": {"bind-host": "127.0.0.1", "max-buffer-bytes": BUDGET, **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["net"]}},
    }


def frame(kind: str, text: str) -> bytes:
    if kind == "tcp":
        return text.encode() + b"\n"
    return orjson.dumps({"short_message": text}) + b"\0"


@pytest.mark.parametrize("kind", ["tcp", "gelf"])
async def test_unfinished_lines_stay_within_half_the_budget_and_the_largest_are_discarded(
    kind: str,
) -> None:
    cfg, http = http_config(pipeline(kind))
    head = b"big " if kind == "tcp" else b'{"short_message":"big '
    tail = b"\n" if kind == "tcp" else b'"}\0'
    async with Harness(cfg) as h:
        net = h.plugin("net")
        port = net.address[1]
        server = net.server if kind == "tcp" else net._server
        peers = [await asyncio.open_connection("127.0.0.1", port) for _ in range(PEERS)]
        for _, w in peers:
            w.write(head + b"x" * (HELD - len(head)))  # no end: an unfinished line
            await w.drain()
        await h.wait_for(
            lambda: sum(c.bytes_in for c in server.connections) == PEERS * HELD,
            what="every unfinished line read",
        )
        # at most half of the budget in unfinished lines: 3 of 150 KiB, the others discarded
        cuts = server.cuts
        assert PEERS - 3 <= cuts <= PEERS
        assert server.partial == server.buffered == (PEERS - cuts) * HELD <= BUDGET // 2
        assert server.peak <= BUDGET + ONE_READ
        assert len(server.connections) == PEERS  # nobody was disconnected

        # what is held is what the gauges say, and every discarded line is counted
        async def gauges() -> tuple[float, float]:
            text = await scrape_metrics(http)
            return metric_value(text, "qframe_buffered_bytes"), metric_value(
                text, "qframe_buffered_unfinished_bytes"
            )

        want = (float(server.buffered), float(server.partial))
        for _ in range(100):  # the gauges are refreshed every second
            if await gauges() == want:
                break
            await asyncio.sleep(0.05)
        assert await gauges() == want and want[0] > 0
        text = await scrape_metrics(http)
        assert metric_value(text, "qframe_dropped_total", reason="buffer_budget") == cuts
        assert (
            0
            < metric_value(text, "qframe_discarded_bytes_total", reason="buffer_budget")
            <= cuts * HELD
        )

        # complete lines from another peer still flow
        _, honest = await asyncio.open_connection("127.0.0.1", port)
        honest.write(b"".join(frame(kind, f"honest {i}") for i in range(100)))
        await honest.drain()
        await h.wait_for(lambda: len(h.captured("out")) == 100, what="the honest lines")

        # each peer ends its line and sends one more: the discarded rest is skipped, the
        # lines held are whole
        for i, (_, w) in enumerate(peers):
            w.write(tail + frame(kind, f"after {i}"))
            await w.drain()
        await h.wait_for(
            lambda: len(h.captured("out")) == 100 + PEERS + (PEERS - cuts), what="the last lines"
        )
        for _, w in [*peers, (None, honest)]:
            w.close()
        await h.wait_for(lambda: not server.connections, what="connections closed")
        assert server.buffered == server.partial == 0
    got = [m.message for m in h.captured("out")]
    assert got[:100] == [f"honest {i}" for i in range(100)]
    assert sorted(t for t in got if t.startswith("after ")) == sorted(
        f"after {i}" for i in range(PEERS)
    )
    big = [t for t in got if t.startswith("big ")]
    assert len(big) == PEERS - cuts
    assert all(len(t) == HELD - len(head) + 4 for t in big)
