"""An aggregator that cannot make its consumer keeps trying, and says why in /health."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from qframe.message import Message
from qframe.testing import Harness
from tests.integration.broker.helpers import sender
from tests.services.nats import NatsServer

pytestmark = pytest.mark.integration


def _aggregator(tmp_path: Path, **collector: object) -> dict:
    """An aggregator: one nats collector (these options) into a capture handler."""
    return {
        "tick": "50ms",
        "data-dir": str(tmp_path / "agg"),
        "collector": {"in": {"kind": "nats", **collector}},
        "handler": {"cap": {"kind": "capture", "inputs": ["in"]}},
    }


def agent_of(tmp_path: Path, url: str, stream: str) -> dict[str, Any]:
    """An agent (:func:`sender`) onto ``stream``, which it creates over the subjects
    ``<stream in lower case>.>``, publishing on ``<stream in lower case>.logs``."""
    sub = stream.lower()
    return sender(
        url,
        tmp_path / "agent",
        stream=stream,
        subject=f"{sub}.logs",
        **{"stream-subjects": [f"{sub}.>"]},
    )


async def _degraded_with(h: Harness, text: str) -> str:
    """Await the collector's reason in /health containing *text*; it is ``degraded``."""
    p = h.plugin("in")
    await h.wait_for(lambda: text in p.metrics.state_reason, timeout=120, what=repr(text))
    assert p.metrics.state == "degraded"
    return p.metrics.state_reason


async def test_an_aggregator_started_before_its_stream_says_why_and_reads_it_once_made(
    nats_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Aggregators started before any agent made the stream: the collector's consumer
    cannot be made; it is ``degraded`` with the server's answer as the reason (not a
    silent ``ok`` with nothing to pull), tries again, and once an agent made the stream
    it reads what the agent sends."""
    config = _aggregator(tmp_path, url=nats_url, stream="LATE", **{"reconnect-wait": "200ms"})
    async with Harness(config) as h:
        p = h.plugin("in")
        assert (await _degraded_with(h, "stream not found")).startswith("set-up: ")
        agent = agent_of(tmp_path, nats_url, "LATE")
        async with Harness(agent) as a:
            await a.plugin("src").send([Message(f"late {i}") for i in range(10)])
            await h.wait_for(lambda: len(h.captured("cap")) == 10, timeout=120, what="carried")
        await h.wait_for(lambda: p.metrics.state == "ok", timeout=120, what="in ok")
    assert sorted(h.texts("cap")) == sorted(f"late {i}" for i in range(10))
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"


async def test_a_consumer_the_user_may_not_make_is_a_reason_naming_the_permission(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A user denied ``$JS.API.CONSUMER.*CREATE.>``: the server refuses the request with
    an asynchronous ``-ERR`` and the request only times out; the set-up's reason in
    /health carries what the server said (it said ``set-up: TimeoutError: nats: timeout``
    alone, half of the time), tried again, no traceback."""
    deny = '["$JS.API.CONSUMER.DURABLE.CREATE.>", "$JS.API.CONSUMER.CREATE.>"]'
    server = NatsServer.start(
        extra="authorization { users: [ {user: agg, password: p,"
        f" permissions: {{ publish: {{ deny: {deny} }} }} }} ] }}"
    )
    try:
        import nats

        nc = await nats.connect(server.url, user="agg", password="p")
        try:
            await nc.jetstream().add_stream(name="PERM", subjects=["perm.>"])
        finally:
            await nc.close()
        link = {"username": "agg", "password": "p", "reconnect-wait": "200ms"}
        config = _aggregator(
            tmp_path, url=server.url, stream="PERM", **{"request-timeout": "1s"}, **link
        )
        async with Harness(config) as h:
            reason = await _degraded_with(h, "set-up: ")
            assert reason.startswith("set-up: ")
            assert "TimeoutError" in reason
            assert "permissions violation for publish" in reason, reason
            assert "consumer.durable.create" in reason.lower(), reason
    finally:
        server.close()
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"


async def test_a_consumer_jetstream_cannot_serve_is_a_reason_not_a_silent_ok(
    nats_node: NatsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The state nats-server 2.9.10 was left in by two first log-ins of an operator-mode
    account at once (see the design notes): a stream whose messages it cannot read, the
    consumer's pending count above 0, every pull empty, no error.  Made here as that race
    left it: the stream's message block is removed under the server (its log then says
    ``error looking up message for consumer … no such file or directory`` at every pull,
    as in the race).  The collector says so in /health instead of a silent ``ok``; once
    the stream is purged it is ``ok`` again and reads what an agent sends."""
    import glob

    import nats

    nats_node.start_again()
    url = nats_node.url
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="STUCK", subjects=["stuck.>"])
        for i in range(3):
            await js.publish("stuck.logs", b"lost %d" % i)
        blocks = glob.glob(f"{nats_node.store}/jetstream/*/streams/STUCK/msgs/*.blk")
        assert blocks
        for b in blocks:
            os.unlink(b)
        config = _aggregator(
            tmp_path, url=url, stream="STUCK", **{"request-timeout": "1s", "stall-after": "2s"}
        )
        async with Harness(config) as h:
            p = h.plugin("in")
            reason = await _degraded_with(h, "delivers none")
            assert "holds 3 batch(es) for consumer qframe on stream STUCK" in reason
            assert h.captured("cap") == []
            await js.purge_stream("STUCK")
            await h.wait_for(lambda: p.metrics.state == "ok", timeout=120, what="ok again")
            agent = agent_of(tmp_path, url, "STUCK")
            async with Harness(agent) as a:
                await a.plugin("src").send([Message(f"after {i}") for i in range(5)])
                await h.wait_for(lambda: len(h.captured("cap")) == 5, timeout=120, what="read")
        assert sorted(h.texts("cap")) == sorted(f"after {i}" for i in range(5))
        assert any("delivered none" in r.getMessage() for r in caplog.records)
        assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    finally:
        await nc.close()
