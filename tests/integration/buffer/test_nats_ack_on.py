"""nats collector → elasticsearch with a disk buffer: JetStream is acked end to end by
default (the buffer's fsync acknowledges nothing upstream), on the buffer's fsync only
with ``ack-on: buffered``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest

from qframe.broker import wire
from qframe.message import Message
from qframe.testing import Harness
from tests.services import free_port
from tests.services.nats import NatsServer
from tests.services.osmem import Osmem

BATCHES, PER_BATCH = 4, 50


async def publish_batches(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="ACKON", subjects=["ackon.>"])
        for b in range(BATCHES):
            tables = wire.new_tables()
            records = [
                wire.encode_record(Message(f"line {b}-{i}", 1.0, id=f"id-{b}-{i}"), tables)
                for i in range(PER_BATCH)
            ]
            await js.publish("ackon.logs", wire.payload(wire.encode_batch(records, tables), "none"))
    finally:
        await nc.close()


async def ack_pending(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info("ACKON", "group")
        return int(info.num_ack_pending)
    finally:
        await nc.close()


def config(url: str, data: Path, es_port: int, ack_on: str) -> dict[str, Any]:
    return {
        "tick": "50ms",
        "data-dir": str(data),
        "collector": {
            "bus": {
                "kind": "nats",
                "url": url,
                "stream": "ACKON",
                "durable": "group",
                "ack-wait": "1s",
                "ack-on": ack_on,
            }
        },
        "handler": {
            "out": {
                "kind": "elasticsearch",
                "inputs": ["bus"],
                "url": f"http://127.0.0.1:{es_port}",
                "retry-initial": "50ms",
                "retry-max": "300ms",
                "buffer": {"type": "disk", "fsync-interval": "50ms"},
            }
        },
    }


@pytest.mark.parametrize("ack_on", ["delivered", "buffered"])
async def test_jetstream_is_acked_when_the_destination_confirmed_unless_ack_on_buffered(
    ack_on: str, tmp_path: Path
) -> None:
    n = BATCHES * PER_BATCH
    server = NatsServer.start()
    es_port = free_port()  # the destination is down: nothing listens there yet
    es = None
    try:
        await publish_batches(server.url)
        async with Harness(config(server.url, tmp_path / "data", es_port, ack_on)) as g:
            bus, out = g.plugin("bus"), g.plugin("out")
            await g.wait_for(
                lambda: out.metrics.counter("disk_buffer_written") == n,
                timeout=60,
                what="every message in the disk buffer",
            )
            if ack_on == "buffered":
                await g.wait_for(
                    lambda: bus.metrics.counter("acked") == BATCHES,
                    timeout=60,
                    what="the batches acked once durable",
                )
                assert await ack_pending(server.url) == 0
            else:
                # held past several fsyncs and ack-waits: in-progress signals, never acked
                await g.wait_for(
                    lambda: bus.metrics.counter("in_progress") >= 3 * BATCHES,
                    timeout=60,
                    what="in-progress signals for the held batches",
                )
                assert bus.metrics.counter("acked") == 0
                assert await ack_pending(server.url) == BATCHES
            es = await asyncio.to_thread(Osmem.start, port=es_port)
            await g.wait_for(
                lambda: out.metrics.counter("delivered") == n, timeout=120, what="all delivered"
            )
            await g.wait_for(
                lambda: bus.metrics.counter("acked") == BATCHES, timeout=60, what="all acked"
            )
        assert await ack_pending(server.url) == 0
        assert es.count("qframe-*") == n
    finally:
        if es is not None:
            es.stop()
        server.close()
