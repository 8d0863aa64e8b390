"""The aggregator's durable consumer follows its options (real nats-server)."""

from __future__ import annotations

from pathlib import Path

import nats

from qframe.testing import Harness
from tests.conftest import Lines
from tests.integration.broker.test_failures import (
    aggregator,
    consumer_info,
    consumer_settled,
    good_batch,
    publish_raw,
)
from tests.services.nats import NatsServer


async def test_a_changed_ack_wait_max_ack_pending_and_subject_reach_the_consumer(
    nats_node: NatsServer, tmp_path: Path, daemon_log: Lines
) -> None:
    nats_node.start_again()
    url, stream = nats_node.url, "CONS"
    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name=stream, subjects=["cons.>"])
    finally:
        await nc.close()
    await publish_raw(url, "cons.a", [good_batch(["a1", "a2"])])
    await publish_raw(url, "cons.b", [good_batch(["b1", "b2"])])
    capture = {"kind": "capture"}

    # a new consumer, with the defaults: everything of the stream
    async with Harness(aggregator(url, tmp_path, stream, capture)) as g:
        await g.wait_for(lambda: len(g.captured("out")) == 4, timeout=30, what="first four")
        await consumer_settled(url, stream, "group")
    first = await consumer_info(url, stream, "group")
    assert first.config.ack_wait == 30.0 and first.config.max_ack_pending == 1000

    # ack-wait and max-ack-pending changed: updated in place (the same consumer)
    await publish_raw(url, "cons.a", [good_batch(["a3"])])
    options = {"ack-wait": "7s", "max-ack-pending": 50}
    async with Harness(aggregator(url, tmp_path, stream, capture, **options)) as g:
        await g.wait_for(lambda: len(g.captured("out")) == 1, timeout=30, what="the new one")
        await consumer_settled(url, stream, "group")
        assert g.texts("out") == ["a3"]  # nothing acknowledged before came again
    second = await consumer_info(url, stream, "group")
    assert second.config.ack_wait == 7.0 and second.config.max_ack_pending == 50
    assert second.created == first.created

    # a subject filter now: only cons.a from where the consumer was, nothing lost
    await publish_raw(url, "cons.b", [good_batch(["b3"])])
    await publish_raw(url, "cons.a", [good_batch(["a4", "a5"])])
    options = {**options, "subject": "cons.a"}
    async with Harness(aggregator(url, tmp_path, stream, capture, **options)) as g:
        await g.wait_for(lambda: len(g.captured("out")) == 2, timeout=30, what="cons.a only")
        await consumer_settled(url, stream, "group")
        assert g.texts("out") == ["a4", "a5"]
        assert g.plugin("bus").metrics.restarts == 0
    third = await consumer_info(url, stream, "group")
    assert third.config.filter_subject == "cons.a"
    assert third.config.ack_wait == 7.0 and third.config.max_ack_pending == 50

    # a change the server refuses (a filter outside the stream's subjects): said once,
    # the consumer is used as it is (deleting a shared consumer would lose acks)
    await publish_raw(url, "cons.a", [good_batch(["a6"])])
    options = {**options, "subject": "elsewhere.x"}
    async with Harness(aggregator(url, tmp_path, stream, capture, **options)) as g:
        await g.wait_for(lambda: len(g.captured("out")) == 1, timeout=30, what="a6")
        await consumer_settled(url, stream, "group")
        assert g.texts("out") == ["a6"]
    said = [t for t in daemon_log.texts() if "refused the update" in t]
    assert len(said) == 1 and "subject cons.a -> elsewhere.x" in said[0], said
    fourth = await consumer_info(url, stream, "group")
    assert fourth.config.filter_subject == "cons.a" and fourth.created == first.created
