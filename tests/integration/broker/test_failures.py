"""The broker path when things go wrong: hostile payloads, a destination down, NATS down."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import nats

from qframe.broker import wire
from qframe.message import Message
from qframe.runtime.node import MAX_BATCH
from qframe.testing import CaptureHandler, Harness, wait_until
from tests.services.nats import NatsServer
from tests.services.osmem import Osmem
from tests.services.tcpproxy import TcpProxy

#: how long NATS stays down in the middle of test_nats_down_at_start_and_in_the_middle
OUTAGE = float(os.environ.get("QFRAME_NATS_OUTAGE", "30"))


def agent(url: str, data: Path, stream: str, src: dict[str, Any], **handler: Any) -> dict[str, Any]:
    return {
        "tick": "50ms",
        "data-dir": str(data / "agent"),
        "collector": {"src": src},
        "handler": {
            "bus": {
                "kind": "nats",
                "inputs": ["src"],
                "url": url,
                "stream": stream,
                "subject": f"{stream.lower()}.logs",
                "stream-subjects": [f"{stream.lower()}.>"],
                "retry-initial": "20ms",
                "retry-max": "500ms",
                "reconnect-wait": "200ms",
                **handler,
            }
        },
    }


def aggregator(
    url: str, data: Path, stream: str, out: dict[str, Any], **collector: Any
) -> dict[str, Any]:
    return {
        "tick": "50ms",
        "data-dir": str(data / "aggregator"),
        "collector": {
            "bus": {
                "kind": "nats",
                "url": url,
                "stream": stream,
                "durable": "group",
                "reconnect-wait": "200ms",
                **collector,
            }
        },
        "handler": {"out": {"inputs": ["bus"], **out}},
    }


async def publish_raw(url: str, subject: str, payloads: list[bytes]) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for p in payloads:
            await js.publish(subject, p)
    finally:
        await nc.close()


async def consumer_info(url: str, stream: str, durable: str) -> Any:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().consumer_info(stream, durable)
    finally:
        await nc.close()


async def consumer_settled(url: str, stream: str, durable: str, timeout: float = 60) -> None:
    """Wait until JetStream has every message of the consumer acknowledged."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await consumer_info(url, stream, durable)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        assert asyncio.get_running_loop().time() < deadline, f"not all acknowledged: {info}"
        await asyncio.sleep(0.1)


def good_batch(texts: list[str]) -> bytes:
    tables = wire.new_tables()
    records = [
        wire.encode_record(Message(t, 1.0, id=f"raw-{i}"), tables) for i, t in enumerate(texts)
    ]
    return wire.payload(wire.encode_batch(records, tables), "zstd")


async def test_hostile_and_future_payloads_leave_the_aggregator_up(
    nats_url: str, tmp_path: Path
) -> None:
    stream = "HOSTILE"
    future = wire.MAGIC + bytes((wire.VERSION + 1, 0)) + b"a format from the future"
    hostile = [
        b"",
        b"plain text, not ours",
        b'{"message": "a json line"}',
        wire.MAGIC + bytes((wire.VERSION, 1)) + b"not zstd at all",
        wire.MAGIC + bytes((wire.VERSION, 0)) + b'[[],[],[["wrong"]]]',
    ]
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().add_stream(name=stream, subjects=["hostile.>"])
    finally:
        await nc.close()
    config = aggregator(
        nats_url, tmp_path, stream, {"kind": "capture"}, **{"nak-delay": "200ms", "ack-wait": "5s"}
    )
    async with Harness(config) as h:
        await publish_raw(nats_url, "hostile.logs", [*hostile, future, good_batch(["one", "two"])])
        await h.wait_for(lambda: len(h.captured("out")) == 2, what="the good batch")
        bus = h.plugin("bus")
        await h.wait_for(
            lambda: sum(v for (k, _), v in bus.metrics.counters.items() if k == "corrupt") == 5,
            what="every hostile payload counted",
        )
        # the future batch is offered again and again (nak with a delay), never terminated
        await h.wait_for(lambda: bus.metrics.counter("future_format") >= 3, what="naks")
        assert [m.message for m in h.captured("out")] == ["one", "two"]
        assert bus.metrics.restarts == 0 and bus.metrics.errors == 0
        info = await consumer_info(nats_url, stream, "group")
        assert info.num_ack_pending + info.num_pending >= 1  # the future batch is still there
    dead = [
        json.loads(line)
        for line in (tmp_path / "aggregator/collector.bus/dead-letter.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len(dead) == 5
    assert all(d["error"] and "payload_b64" in d and d["collector"] == "bus" for d in dead)
    info = await consumer_info(nats_url, stream, "group")
    assert info.num_ack_pending + info.num_pending == 1  # hostile ones terminated, not pending


async def test_a_destination_down_longer_than_ack_wait_gets_no_batch_twice(
    nats_url: str, tmp_path: Path
) -> None:
    stream = "SLOWES"
    n = 400
    server = Osmem.start()
    proxy = await TcpProxy.start(server.port)
    es = {
        "kind": "elasticsearch",
        "url": f"http://127.0.0.1:{proxy.port}",
        "retry-initial": "50ms",
        "retry-max": "300ms",
        "timeout": "2s",
    }
    src = {"kind": "list", "ack": True, "linger": True}
    try:
        await proxy.cut()
        async with (
            Harness(agent(nats_url, tmp_path, stream, src, **{"batch-size": 50})) as a,
            Harness(aggregator(nats_url, tmp_path, stream, es, **{"ack-wait": "1s"})) as g,
        ):
            await a.plugin("src").send([Message(f"line {i}", 1.0 + i) for i in range(n)])
            await a.wait_for(lambda: a.plugin("src").acked == n, what="all in the stream")
            bus, out = g.plugin("bus"), g.plugin("out")
            # three in-progress signals of one batch: more than ack-wait passed
            await g.wait_for(
                lambda: (
                    bus.metrics.counter("in_progress") >= 3 * bus.metrics.counter("batches")
                    and bus.metrics.counter("batches") > 0
                ),
                timeout=30,
                what="batches held past ack-wait",
            )
            assert out.metrics.state == "degraded"
            await proxy.restore()
            await g.wait_for(lambda: server.count("qframe-*") == n, timeout=60, what="all indexed")
            await g.wait_for(lambda: bus.metrics.counter("acked") * 50 >= n, what="acked to NATS")
            await g.wait_for(lambda: out.metrics.counter("delivered") >= n, what="confirmed")
            # no batch reached the handler twice: the in-progress signals held every batch
            # past ack-wait; one JetStream handed out again all the same (a signal late on
            # a loaded machine) was taken as what it is, a replay, and not handed on
            assert out.metrics.received == out.metrics.counter("delivered") == n
            assert bus.metrics.counter("redelivered") == bus.metrics.counter("replays")
            await consumer_settled(nats_url, stream, "group")
        docs = server.search("qframe-*", size=n + 10)
        assert sorted(d["_source"]["message"] for d in docs) == sorted(
            f"line {i}" for i in range(n)
        )
    finally:
        await proxy.close()
        server.stop()


class HeldCapture(CaptureHandler):
    """capture that holds every batch (unconfirmed) until the test releases it."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.release = asyncio.Event()
        self.held = 0

    async def handle(self, batch: list[Message]) -> None:
        self.held += len(batch)
        await self.release.wait()
        await super().handle(batch)


async def test_a_batch_whose_ack_was_lost_is_acked_again_not_handed_on_twice(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    """The duplicates of the outage test: acks lost on the way (NATS stopped, the link
    broke) make JetStream deliver batches again that the aggregator had written."""
    nats_node.start_again()
    stream = "LOSTACK"
    nc = await nats.connect(nats_node.url)
    try:
        await nc.jetstream().add_stream(name=stream, subjects=["lostack.>"])
    finally:
        await nc.close()
    texts = [f"line {i}" for i in range(6)]
    await publish_raw(
        nats_node.url, "lostack.logs", [good_batch(texts[i : i + 2]) for i in (0, 2, 4)]
    )
    proxy = await TcpProxy.start(nats_node.port)
    url = f"nats://127.0.0.1:{proxy.port}"
    config = aggregator(
        url, tmp_path, stream, {"kind": "held"}, **{"ack-wait": "1s", "request-timeout": "2s"}
    )
    try:
        async with Harness(config, extra={("handler", "held"): HeldCapture}) as g:
            bus, out = g.plugin("bus"), g.plugin("out")
            await g.wait_for(lambda: out.held == 6, timeout=60, what="every batch pulled")
            proxy.dropping = True  # from now on nothing the aggregator sends arrives
            out.release.set()
            await g.wait_for(lambda: bus.metrics.counter("acked") == 3, timeout=30, what="acked")
            # JetStream hands the batches out again after ack-wait (to a pull request sent
            # before the loss, or after it): each is acknowledged again, none handed on
            await g.wait_for(
                lambda: bus.metrics.counter("replays") >= 3, timeout=60, what="replays"
            )
            assert proxy.dropped > 0
            proxy.dropping = False
            await consumer_settled(nats_node.url, stream, "group")
            assert sorted(g.texts("out")) == texts  # each exactly once
            assert bus.metrics.counter("replays") >= 3
    finally:
        await proxy.close()


async def test_nats_down_at_start_and_in_the_middle_loses_nothing(
    nats_node: NatsServer, tmp_path: Path
) -> None:
    stream = "OUTAGE"
    log = tmp_path / "app.log"
    out = tmp_path / "out.jsonl"
    log.write_bytes(b"")
    files = {
        "kind": "file",
        "path": str(log),
        "start-position": "beginning",
        "poll-interval": "20ms",
        "scan-interval": "200ms",
        "read-bytes": "32KiB",  # at most ~440 lines per read
    }
    max_pending = 400
    handler = {"batch-size": 100, "max-pending": max_pending, "max-in-flight": 2}
    written = 0
    peak = 0

    def write(n: int) -> None:
        nonlocal written
        with open(log, "a") as f:
            for _ in range(n):
                f.write(f"line {written:08d} {'x' * 60}\n")
                written += 1

    lines = 0

    def received() -> dict[str, str]:
        """id -> text of every line written by the aggregator."""
        nonlocal lines
        if not out.exists():
            return {}
        data = out.read_bytes()
        got: dict[str, str] = {}
        raws = data[: data.rfind(b"\n") + 1].splitlines()
        for raw in raws:
            d = json.loads(raw)
            assert got.setdefault(d["id"], d["message"]) == d["message"]
        lines = len(raws)
        return got

    nats_node.stop()
    async with Harness(agent(nats_node.url, tmp_path, stream, files, **handler)) as a:
        bus = a.plugin("bus")

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, bus.inflight.pending)
                await asyncio.sleep(0.005)

        watcher = asyncio.ensure_future(watch())
        write(5000)
        await a.wait_for(
            lambda: bus.inflight.pending >= max_pending, what="backpressure while down"
        )
        assert bus.metrics.state == "degraded" and "NATS" in bus.metrics.state_reason
        nats_node.start_again()
        log_out = {"kind": "log", "format": "json", "path": str(out)}
        async with Harness(aggregator(nats_node.url, tmp_path, stream, log_out)) as g:
            await g.wait_for(lambda: len(received()) >= 2500, timeout=60, what="half")
            nats_node.stop()
            await a.wait_for(lambda: bus.metrics.state == "degraded", what="noticed")
            write(5000)
            await asyncio.sleep(OUTAGE)  # the outage itself: nothing to wait for but time
            assert bus.metrics.state == "degraded"
            nats_node.start_again()
            await g.wait_for(lambda: len(received()) >= written, timeout=120, what="every line")
            await wait_until(lambda: bus.metrics.state == "ok", what="agent ok again")
        watcher.cancel()
    got = received()
    assert len(got) == written == 10_000  # one id per line: exactly once by id
    # and exactly once as lines: a batch whose ack was lost with NATS is delivered again
    # to this aggregator, which acks it again without writing it (a retried publish is
    # dropped by JetStream's duplicate window, which survives the server's restart)
    assert lines == written, f"{lines - written} lines written twice"
    assert sorted(got.values()) == [f"line {i:08d} {'x' * 60}" for i in range(written)]
    # bounded memory: never more held than max-pending and one input batch (the runtime
    # merges queued reads up to MAX_BATCH messages; one read is under 32KiB)
    assert max_pending <= peak <= max_pending + MAX_BATCH


async def test_a_message_larger_than_max_payload_is_dead_lettered_not_looped(
    tmp_path: Path,
) -> None:
    server = NatsServer.start(extra="max_payload: 65536")
    try:
        src = {"kind": "list", "ack": True, "linger": True}
        config = agent(server.url, tmp_path, "BIG", src, **{"batch-size": 20})
        async with Harness(config) as a:
            bus = a.plugin("bus")
            await a.wait_for(lambda: bus.metrics.state == "ok", what="connected")
            small = [Message(f"small {i}", 1.0) for i in range(30)]
            huge = Message("x" * 100_000, 1.0)
            # the batches with it are halved until it is alone (one NATS message cannot carry it)
            await a.plugin("src").send([*small[:15], huge, *small[15:]])
            await a.wait_for(lambda: a.plugin("src").acked == 31, what="all acknowledged")
            assert bus.metrics.counter("delivered") == 30
            dead = sum(v for (k, _), v in bus.metrics.counters.items() if k == "dead_letter")
            assert dead == 1
        lines = (tmp_path / "agent/handler.bus/dead-letter.jsonl").read_text().splitlines()
        assert len(lines) == 1
        record = json.loads(lines[0])
        assert "limit of one NATS message" in record["error"]
        assert record["message"]["message"] == "x" * 100_000
        got = await consumer_messages(server.url, "BIG")
        assert sorted(got) == sorted(m.message for m in small)
    finally:
        server.close()


async def consumer_messages(url: str, stream: str) -> list[str]:
    """Every message text in a stream (read with an ephemeral consumer until it is idle)."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe("", stream=stream)
        out: list[str] = []
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except TimeoutError:
                return out
            for msg in msgs:
                out += [m.message for m in wire.decode(msg.data)]
                await msg.ack()
    finally:
        await nc.close()
