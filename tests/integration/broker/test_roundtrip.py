"""agent (nats handler) → JetStream → aggregator (nats collector), in one process."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qframe.message import Message
from qframe.testing import Harness
from tests.unit.broker.test_wire import TRAVELLING, messages, normal, same

_streams = itertools.count(1)


def pipeline(url: str, data_dir: Path, stream: str, **handler: Any) -> dict[str, Any]:
    subject = f"{stream.lower()}.events"
    return {
        "tick": "50ms",
        "data-dir": str(data_dir),
        "collector": {
            "src": {"kind": "list", "ack": True, "linger": True},
            "in": {
                "kind": "nats",
                "url": url,
                "stream": stream,
                "durable": "agg",
                "ack-wait": "5s",
            },
        },
        "handler": {
            "out": {
                "kind": "nats",
                "inputs": ["src"],
                "source-success": "any",
                "url": url,
                "stream": stream,
                "subject": subject,
                "stream-subjects": [f"{stream.lower()}.>"],
                "retry-initial": "20ms",
                "retry-max": "200ms",
                **handler,
            },
            "cap": {"kind": "capture", "inputs": ["in"], "source-success": "any"},
        },
    }


async def carry(url: str, tmp: Path, batch: list[Message], **handler: Any) -> list[Message]:
    stream = f"RT{next(_streams)}"
    async with Harness(pipeline(url, tmp / stream, stream, **handler)) as h:
        await h.plugin("src").send(batch)
        await h.wait_for(
            lambda: len(h.captured("cap")) >= len(batch), timeout=30, what="all carried"
        )
        await h.wait_for(lambda: h.plugin("src").acked == len(batch), what="agent acked")
        got = list(h.captured("cap"))
        await h.wait_for(
            lambda: h.plugin("in").metrics.counter("acked") >= 1,
            what="batch acked to JetStream",
        )
    return got


def assert_carried(sent: list[Message], got: list[Message]) -> None:
    """Every attribute equal (in order: one agent, one aggregator); the path continues
    through the aggregator's instances; the agent gave every message an id."""
    assert len(got) == len(sent)
    assert all(m.id for m in got) and len({m.id for m in got}) == len(got)
    for a, b in zip(sent, got, strict=True):
        for slot in TRAVELLING:
            x, y = normal(slot, getattr(a, slot)), normal(slot, getattr(b, slot))
            if slot == "source_path":
                assert y == [*x, "in", "cap"]
            elif slot == "id" and not x:
                continue  # given by the agent (checked above)
            else:
                assert same(x, y), f"{slot}: {x!r} != {y!r}"


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(messages(), min_size=1, max_size=40),
    st.sampled_from(["none", "zstd", "gzip"]),
)
def test_every_attribute_survives_the_broker(
    nats_url: str, tmp_path: Path, batch: list[Message], codec: str
) -> None:
    for m in batch[::2]:
        m.id = ""  # half of them get their id from the agent
    got = asyncio.run(carry(nats_url, tmp_path, batch, compression=codec))
    assert_carried(batch, got)
