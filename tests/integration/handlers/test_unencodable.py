"""One message that cannot be encoded never takes its batch down, in every handler.

orjson decodes nesting 1024 deep but encodes at most 254; integers past 64 bits and lone
surrogates are refused too.  Each handler gets [good, bad, good, bad, good] in one batch:
the good ones land, each bad one is set aside alone (tagged, counted, dead-lettered where
the handler has a dead letter), and every message is acknowledged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qframe.jsonsafe import ENCODE_FAILURE_TAG
from qframe.message import Message, Metric
from qframe.testing import Harness
from tests.services.influxdb import Influxd
from tests.services.nats import NatsServer
from tests.services.osmem import Osmem

pytestmark = pytest.mark.integration

T0 = 1795669200.0


def deep(n: int) -> Any:
    v: Any = "bottom"
    for _ in range(n):
        v = {"k": v}
    return v


def batch() -> list[Message]:
    return [
        Message("good 0", time=T0, id="g0", fields={"n": 0}),
        Message("too deep", time=T0, id="b0", fields={"x": deep(300)}),
        Message("good 1", time=T0 + 1, id="g1", fields={"n": 1}),
        Message("too big", time=T0, id="b1", fields={"n": 2**70}),
        Message("good 2", time=T0 + 2, id="g2", fields={"n": 2}),
    ]


def base(data: Path, handler: dict[str, Any]) -> dict[str, Any]:
    return {
        "tick": "50ms",
        "data-dir": str(data),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {"out": {"inputs": ["src"], **handler}},
    }


def dead_letters(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


async def test_log_handler_writes_the_good_messages_of_the_batch(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    async with Harness(base(tmp_path, {"kind": "log", "format": "json", "path": str(out)})) as h:
        src = h.plugin("src")
        msgs = batch()
        await src.send(msgs)
        await h.wait_for(lambda: src.acked == 5, what="all acknowledged")
        m = h.plugin("out").metrics
        assert m.counter("unencodable") == 2
        assert m.dropped == {"unencodable": 2}
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["message"] for x in lines] == ["good 0", "good 1", "good 2"]
    assert ENCODE_FAILURE_TAG in msgs[1].tags and ENCODE_FAILURE_TAG in msgs[3].tags
    assert not msgs[0].tags


async def test_elasticsearch_dead_letters_the_bad_ones_and_indexes_the_rest(
    osmem: Osmem, tmp_path: Path
) -> None:
    cfg = base(
        tmp_path,
        {"kind": "elasticsearch", "url": osmem.url, "retry-initial": "20ms", "timeout": "5s"},
    )
    async with Harness(cfg) as h:
        src = h.plugin("src")
        await src.send(batch())
        await h.wait_for(lambda: src.acked == 5, what="all acknowledged")
        assert h.plugin("out").metrics.counter("rejected", reason="encode") == 2
    assert sorted(x["_source"]["message"] for x in osmem.search("qframe-*")) == [
        "good 0",
        "good 1",
        "good 2",
    ]
    dead = dead_letters(tmp_path / "handler.out" / "dead-letter.jsonl")
    assert sorted(d["message"]["id"] for d in dead) == ["b0", "b1"]
    assert all(ENCODE_FAILURE_TAG in d["message"]["tags"] for d in dead)


async def test_influxdb_dead_letters_the_bad_point_and_writes_the_rest(
    influx: Influxd, tmp_path: Path
) -> None:
    def point(i: int, key: str) -> Message:
        return Message(
            "", time=T0 + i, kind="metric", labels={"i": str(i)}, metric=Metric("m", {key: i})
        )

    points = [point(0, "v"), point(1, "bad\ud800"), point(2, "v"), point(3, "v")]
    cfg = base(
        tmp_path,
        {
            "kind": "influxdb",
            "url": influx.url,
            "database": "unenc",
            "retry-initial": "20ms",
            "timeout": "5s",
        },
    )
    async with Harness(cfg) as h:
        src = h.plugin("src")
        await src.send(points)
        await h.wait_for(lambda: src.acked == 4, what="all acknowledged")
        assert h.plugin("out").metrics.counter("rejected", reason="encode") == 1
    (series,) = influx.query("SELECT v FROM m", "unenc")
    assert [row[1] for row in series["values"]] == [0, 2, 3]
    (dead,) = dead_letters(tmp_path / "handler.out" / "dead-letter.jsonl")
    assert ENCODE_FAILURE_TAG in dead["message"]["tags"]


async def test_nats_dead_letters_the_bad_ones_and_publishes_the_rest(tmp_path: Path) -> None:
    server = NatsServer.start()
    try:
        agent = base(
            tmp_path / "agent",
            {
                "kind": "nats",
                "url": server.url,
                "stream": "UNENC",
                "subject": "unenc.logs",
                "stream-subjects": ["unenc.>"],
                "retry-initial": "20ms",
            },
        )
        aggregator = {
            "tick": "50ms",
            "data-dir": str(tmp_path / "aggregator"),
            "collector": {
                "bus": {"kind": "nats", "url": server.url, "stream": "UNENC", "durable": "g"}
            },
            "handler": {"cap": {"kind": "capture", "inputs": ["bus"]}},
        }
        async with Harness(agent) as a, Harness(aggregator) as g:
            src = a.plugin("src")
            await src.send(batch())
            await a.wait_for(lambda: src.acked == 5, what="all acknowledged")
            # the wire carries integers past 64 bits exactly: only the deep one is refused
            await g.wait_for(lambda: len(g.captured("cap")) == 4, what="four delivered")
            got = {m.message: m for m in g.captured("cap")}
            assert sorted(got) == ["good 0", "good 1", "good 2", "too big"]
            assert got["too big"].fields["n"] == 2**70
    finally:
        server.close()
    dead = dead_letters(tmp_path / "agent" / "handler.out" / "dead-letter.jsonl")
    (d,) = dead
    assert d["message"]["id"] == "b0" and ENCODE_FAILURE_TAG in d["message"]["tags"]
