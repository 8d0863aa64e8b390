"""Back-channel queries to the inventory filter, inside a running pipeline."""

from __future__ import annotations

import asyncio
import logging

import pytest

from qframe.errors import RequestTimeout
from qframe.inventory import ContainerQuery, ContainerReply
from qframe.testing import Harness, wait_until
from tests.conftest import Lines

from .conftest import pipeline
from .events import cid_for, event, info


async def ask(h: Harness, q: ContainerQuery, timeout: float = 10.0) -> ContainerReply:
    reply = await h.pipeline.request("inventory", q, timeout)
    assert isinstance(reply, ContainerReply)
    assert reply.query is q
    return reply


async def started(h: Harness, *names_ips: tuple[str, str]) -> None:
    inv = h.plugin("inventory")
    before = len(inv.index)
    await h.plugin("docker-events").send([event("start", info(n, ip)) for n, ip in names_ips])
    await wait_until(lambda: len(inv.index) == before + len(names_ips), what="events applied")


async def test_a_known_container_is_answered_at_once_by_each_key(harness: Harness) -> None:
    await started(harness, ("web1", "10.88.0.5"), ("web2", "10.88.0.6"))
    cid = cid_for("web1")
    for q in (
        ContainerQuery(name="web1", timeout=0),
        ContainerQuery(name="/web1", timeout=0),
        ContainerQuery(id=cid, timeout=0),
        ContainerQuery(id=cid[:12], timeout=0),
        ContainerQuery(id=cid[:40], timeout=0),
        ContainerQuery(ip="10.88.0.5", timeout=0),
    ):
        r = await ask(harness, q)
        assert r.found and r.container is not None, q
        assert r.container.name == "web1" and r.container.image == "localhost/busybox:latest"
        assert r.container.ips == {"podman": "10.88.0.5"}
    assert harness.plugin("inventory").metrics.counter("requests", result="found") == 6


async def test_an_empty_inventory_answers_not_found_at_the_query_timeout(
    harness: Harness, daemon_log: Lines
) -> None:
    # the seed never answered while the inventory was empty: here the reply is explicit
    r = await ask(harness, ContainerQuery(name="nobody", timeout=0.2), timeout=30)
    assert not r.found and r.container is None
    inv = harness.plugin("inventory")
    assert inv.metrics.counter("requests", result="timeout") == 1
    assert len(inv.pending) == 0 and inv.pending.keys_count() == 0
    assert any(
        t.startswith("TIMEOUT > Request: /nobody not found after 0.2s (pending: 0)")
        for t in daemon_log.texts(logging.INFO)
    )


async def test_a_zero_timeout_query_for_an_unknown_container_is_answered_at_once(
    harness: Harness,
) -> None:
    r = await ask(harness, ContainerQuery(ip="10.88.0.99", timeout=0), timeout=30)
    assert not r.found
    assert len(harness.plugin("inventory").pending) == 0


async def test_queries_with_only_empty_keys_never_match_and_never_wait(harness: Harness) -> None:
    await harness.plugin("docker-events").send([event("start", info("noip"))])
    await wait_until(lambda: len(harness.plugin("inventory").index) == 1)
    for q in (
        ContainerQuery(timeout=60),
        ContainerQuery(ip="", timeout=60),
        ContainerQuery(name="/", timeout=60),
        ContainerQuery(id="abc", timeout=60),  # shorter than 12: never an id
    ):
        r = await ask(harness, q, timeout=30)  # < the queries' 60 s: a wait fails
        assert not r.found, q
    assert len(harness.plugin("inventory").pending) == 0


async def test_the_seeds_example_run_two_requests_answered_as_each_container_starts(
    harness: Harness, daemon_log: Lines
) -> None:
    inv = harness.plugin("inventory")
    t1 = asyncio.create_task(ask(harness, ContainerQuery(name="/TestCnt1", timeout=30)))
    t2 = asyncio.create_task(ask(harness, ContainerQuery(name="TestCnt2", timeout=30)))
    await wait_until(lambda: len(inv.pending) == 2, what="two pending requests")
    await harness.plugin("docker-events").send([event("start", info("TestCnt1", "10.88.0.2"))])
    r1 = await asyncio.wait_for(t1, 10)
    assert r1.container is not None and r1.container.name == "TestCnt1"
    assert not t2.done() and len(inv.pending) == 1
    await harness.plugin("docker-events").send([event("start", info("TestCnt2", "10.88.0.3"))])
    r2 = await asyncio.wait_for(t2, 10)
    assert r2.container is not None and r2.container.name == "TestCnt2"
    successes = [t for t in daemon_log.texts(logging.INFO) if t.startswith("SUCCESS")]
    assert successes == [
        "SUCCESS > Request: /TestCnt1 (pending: 1)",
        "SUCCESS > Request: /TestCnt2 (pending: 0)",
    ]
    assert any(t.startswith("Request: /TestCnt1") for t in daemon_log.texts(logging.DEBUG))


async def test_a_created_container_answers_pending_requests_only_once_started(
    harness: Harness,
) -> None:
    task = asyncio.create_task(ask(harness, ContainerQuery(name="slow", timeout=30)))
    inv = harness.plugin("inventory")
    await wait_until(lambda: len(inv.pending) == 1)
    await harness.plugin("docker-events").send([event("create", info("slow"))])
    await wait_until(lambda: len(inv.index) == 1)
    assert not task.done()
    await harness.plugin("docker-events").send([event("start", info("slow", "10.88.0.4"))])
    r = await asyncio.wait_for(task, 10)
    assert r.container is not None and r.container.ips == {"podman": "10.88.0.4"}


async def test_many_concurrent_requests_are_each_answered_with_their_own_container(
    harness: Harness,
) -> None:
    inv = harness.plugin("inventory")
    names = [f"c{i}" for i in range(20)]
    tasks = [
        asyncio.create_task(ask(harness, ContainerQuery(name=n, timeout=30)))
        for n in names
        for _ in range(10)
    ]
    # some ask by IP and by id prefix for the same containers
    tasks += [
        asyncio.create_task(ask(harness, ContainerQuery(ip=f"10.88.1.{i}", timeout=30)))
        for i in range(20)
    ]
    tasks += [
        asyncio.create_task(ask(harness, ContainerQuery(id=cid_for(n)[:16], timeout=30)))
        for n in names
    ]
    await wait_until(lambda: len(inv.pending) == 240, what="240 pending")
    await harness.plugin("docker-events").send(
        [event("start", info(n, f"10.88.1.{i}")) for i, n in enumerate(names)]
    )
    replies = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    for r in replies:
        q = r.query
        assert r.container is not None
        if q.name:
            assert r.container.name == q.name
        elif q.ip:
            assert r.container.ips["podman"] == q.ip
        else:
            assert r.container.id.startswith(q.id)
    assert len(inv.pending) == 0 and inv.pending.keys_count() == 0
    assert inv.metrics.counter("requests", result="found") == 240


async def test_pending_requests_are_re_checked_on_every_tick() -> None:
    async with Harness(pipeline(**{"ticker-ms": 20})) as h:
        inv = h.plugin("inventory")
        task = asyncio.create_task(ask(h, ContainerQuery(name="ticked", timeout=30)))
        await wait_until(lambda: len(inv.pending) == 1)
        # a container that becomes known without an event (as if applied elsewhere):
        # only the tick's re-check can answer the request
        inv.index.apply("start", info("ticked"), 0.0)
        r = await asyncio.wait_for(task, 10)
        assert r.found


async def test_a_requester_that_gives_up_leaves_nothing_pending(harness: Harness) -> None:
    inv = harness.plugin("inventory")
    with pytest.raises(RequestTimeout):
        await harness.pipeline.request("inventory", ContainerQuery(name="x", timeout=60), 0.05)
    await wait_until(lambda: len(inv.pending) == 0, what="pending forgotten")
    assert inv.metrics.counter("requests", result="abandoned") == 1


async def test_a_request_of_another_type_gets_an_error_not_silence(harness: Harness) -> None:
    with pytest.raises(TypeError):
        await harness.pipeline.request("inventory", {"name": "web1"}, 1.0)


async def test_too_many_pending_requests_are_answered_not_found_at_once() -> None:
    async with Harness(pipeline(**{"max-pending": 2})) as h:
        tasks = [
            asyncio.create_task(ask(h, ContainerQuery(name=f"n{i}", timeout=30))) for i in range(3)
        ]
        done, _ = await asyncio.wait(tasks, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        assert [t.result().found for t in done] == [False]
        assert len(h.plugin("inventory").pending) == 2


async def test_pending_requests_are_answered_not_found_at_shutdown() -> None:
    h = Harness(pipeline())
    await h.pipeline.start()
    task = asyncio.create_task(ask(h, ContainerQuery(name="never", timeout=60)))
    await wait_until(lambda: len(h.plugin("inventory").pending) == 1)
    await h.pipeline.shutdown()
    r = await asyncio.wait_for(task, 5)
    assert not r.found


async def test_a_removed_container_resolves_until_the_grace_period_is_over() -> None:
    async with Harness(pipeline(**{"retain": "300ms", "ticker-ms": 20})) as h:
        inv = h.plugin("inventory")
        c = info("brief", "10.88.0.8")
        await h.plugin("docker-events").send([event("start", c), event("destroy", c)])
        await wait_until(lambda: inv.index.gone == 1)
        r = await ask(h, ContainerQuery(ip="10.88.0.8", timeout=0))
        assert r.found  # a late line is still attributed
        await wait_until(lambda: len(inv.index) == 0, what="evicted after retain")
        r = await ask(h, ContainerQuery(ip="10.88.0.8", timeout=0))
        assert not r.found
        assert inv.metrics.counter("evicted") == 1


async def test_a_malformed_query_gets_an_error_not_silence(harness: Harness) -> None:
    with pytest.raises(TypeError):
        await harness.pipeline.request("inventory", ContainerQuery(name="x", timeout=None), 1.0)  # type: ignore[arg-type]
    assert len(harness.plugin("inventory").pending) == 0
