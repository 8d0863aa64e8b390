"""The Back channel, ticks, backpressure and supervision."""

from __future__ import annotations

import asyncio

import pytest

from qframe.errors import RequestTimeout, UnknownTarget
from qframe.message import Message
from qframe.runtime.channel import TICK, Channel
from qframe.testing import Harness

from .plugins import EXTRA

RESPONDER = {
    "tick": "100ms",
    "collector": {"src": {"kind": "list", "linger": True}},
    "filter": {"echo": {"inputs": ["src"]}},
    "handler": {"out": {"kind": "capture", "inputs": ["echo"]}},
}


async def test_back_channel_request_gets_an_immediate_reply() -> None:
    async with Harness(RESPONDER, EXTRA) as h:
        assert await h.plugin("src").request("echo", "now:hello", timeout=30) == "HELLO"


async def test_back_channel_reply_can_come_later_on_a_tick() -> None:
    async with Harness(RESPONDER, EXTRA) as h:
        assert await h.plugin("src").request("echo", "later:tock", timeout=30) == "TOCK"


async def test_back_channel_request_times_out_explicitly() -> None:
    async with Harness(RESPONDER, EXTRA) as h:
        with pytest.raises(RequestTimeout):
            await h.plugin("src").request("echo", "never", timeout=0.2)


async def test_back_channel_request_to_an_unknown_instance_fails() -> None:
    async with Harness(RESPONDER, EXTRA) as h:
        with pytest.raises(UnknownTarget):
            await h.plugin("src").request("nobody", "now:x", timeout=0.2)


async def test_global_tick_and_per_plugin_ticker_ms() -> None:
    cfg = {
        "tick": "1h",
        "collector": {"src": {"kind": "list", "linger": True}},
        "handler": {
            "slow": {"kind": "capture", "inputs": ["src"]},
            "fast": {"kind": "capture", "inputs": ["src"], "ticker-ms": 20},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        await h.wait_for(lambda: h.plugin("fast").ticks >= 3)
        assert h.plugin("slow").ticks == 0


async def test_slow_handler_makes_a_fast_collector_wait_with_bounded_queues() -> None:
    n = 5000
    cfg = {
        "collector": {
            "src": {"kind": "list", "messages": [str(i) for i in range(n)], "batch-size": 100}
        },
        "filter": {"mid": {"kind": "id", "inputs": ["src"], "queue-size": 300}},
        "handler": {
            "out": {"kind": "capture", "inputs": ["mid"], "queue-size": 300, "delay": "5ms"}
        },
    }
    async with Harness(cfg, EXTRA) as h:
        src, mid_node, out_node = h.plugin("src"), h.pipeline.find("mid"), h.pipeline.find("out")
        deepest = 0
        while not h.pipeline.done.is_set():
            deepest = max(deepest, len(mid_node.inbox), len(out_node.inbox))
            in_flight = src.sent - len(h.captured("out"))
            # at most: both queues full + one batch being processed + one batch being put
            assert in_flight <= 300 + 300 + 4096 + 100 + 100
            # every turn of the event loop, not every few ms: while the slow handler awaits
            # its delay, mid has refilled out's queue (4,000 messages are still to come), so
            # a non-empty queue is seen whatever the load
            await asyncio.sleep(0)
    assert len(h.captured("out")) == n
    assert 0 < deepest <= 400  # a queue takes one more batch once it has room


async def test_channel_put_waits_when_full_and_resumes_when_drained() -> None:
    ch = Channel(capacity=2)
    await ch.put([Message("a"), Message("b")])
    blocked = asyncio.ensure_future(ch.put([Message("c")]))
    for _ in range(20):  # turns of the event loop, not time: the put has run and waits
        await asyncio.sleep(0)
    assert not blocked.done() and len(ch) == 2
    got = await ch.get()
    assert [m.message for m in got] == ["a", "b"]
    await asyncio.wait_for(blocked, 30)
    ch.tick()
    assert await ch.get() is TICK
    ch.close()
    assert [m.message for m in await ch.get()] == ["c"]
    assert await ch.get() is None


async def test_a_collector_that_raises_is_restarted_and_the_others_keep_flowing() -> None:
    cfg = {
        "collector": {
            "flaky": {"fail": 1, "count": 3},
            "steady": {"kind": "list", "messages": ["s1", "s2"]},
        },
        "handler": {"out": {"kind": "capture", "inputs": ["flaky", "steady"]}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.wait_for(lambda: {"s1", "s2"} <= {m.message for m in h.captured("out")}, timeout=30)
        await h.run_to_completion(10)
        node = h.pipeline.find("flaky")
        assert node.metrics.restarts == 1 and node.metrics.errors == 1
    assert sorted(m.message for m in h.captured("out")) == [
        "flaky 0",
        "flaky 1",
        "flaky 2",
        "s1",
        "s2",
    ]


async def test_a_filter_that_raises_forwards_the_batch_tagged_and_keeps_running() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": ["ok1", "bad", "ok2"], "batch-size": 1}},
        "filter": {"exploding": {"inputs": ["src"]}},
        "handler": {"out": {"kind": "capture", "inputs": ["exploding"]}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(5)
        assert h.pipeline.find("exploding").metrics.errors == 1
    out = h.captured("out")
    assert [m.message for m in out] == ["ok1", "bad", "ok2"]
    assert out[1].tags == ["_filtererror"] and out[0].tags == []


async def test_a_handler_that_raises_is_restarted_and_the_batch_retried() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": ["a", "b"], "ack": True}},
        "handler": {"out": {"kind": "capture", "inputs": ["src"], "fail-times": 2}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(10)
        assert h.pipeline.find("out").metrics.restarts == 2
        assert h.plugin("src").acked == 2
    assert [m.message for m in h.captured("out")] == ["a", "b"]
