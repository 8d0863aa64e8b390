"""The ops endpoint: list, and long-poll through the Back channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from qframe.testing import Harness, wait_until
from tests.services import free_port

from .conftest import pipeline
from .events import cid_for, event, info


@pytest.fixture
async def served() -> AsyncIterator[tuple[Harness, str]]:
    port = free_port()
    async with Harness({**pipeline(), "http": f"127.0.0.1:{port}"}) as h:
        yield h, f"http://127.0.0.1:{port}/inventory/containers"


async def get(url: str, **params: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url, params=params) as r:
        return r.status, await r.json()


async def test_the_endpoint_lists_every_container_with_its_state(
    served: tuple[Harness, str],
) -> None:
    h, url = served
    status, body = await get(url)
    assert (status, body) == (200, {"count": 0, "containers": []})
    b, a = info("b", "10.88.0.3"), info("a", "10.88.0.2")
    await h.plugin("docker-events").send([event("start", b), event("start", a), event("die", b)])
    inv = h.plugin("inventory")
    await wait_until(lambda: len(inv.index) == 2 and inv.index.by_name("b").state == "stopped")
    status, body = await get(url)
    assert status == 200 and body["count"] == 2
    assert [(c["name"], c["state"]) for c in body["containers"]] == [
        ("a", "running"),
        ("b", "stopped"),
    ]
    assert body["containers"][0]["id"] == a.id
    assert body["containers"][0]["ips"] == {"podman": "10.88.0.2"}


async def test_a_known_container_is_returned_at_once_by_name_id_or_ip(
    served: tuple[Harness, str],
) -> None:
    h, url = served
    await h.plugin("docker-events").send([event("start", info("web1", "10.88.0.5"))])
    await wait_until(lambda: len(h.plugin("inventory").index) == 1)
    for params in ({"name": "web1"}, {"id": cid_for("web1")[:12]}, {"ip": "10.88.0.5"}):
        status, body = await get(url, **params)
        assert status == 200, params
        assert body["name"] == "web1" and body["id"] == cid_for("web1")


async def test_a_long_poll_is_answered_when_the_container_appears(
    served: tuple[Harness, str],
) -> None:
    h, url = served
    inv = h.plugin("inventory")
    poll = asyncio.create_task(get(url, name="/later", wait="20s"))
    await wait_until(lambda: len(inv.pending) == 1, what="the poll is a pending request")
    assert not poll.done()
    await h.plugin("docker-events").send([event("start", info("later", "10.88.0.9"))])
    status, body = await asyncio.wait_for(poll, 10)
    assert status == 200
    assert body["name"] == "later" and body["ips"] == {"podman": "10.88.0.9"}
    assert inv.metrics.counter("requests", result="found") == 1
    async with (
        aiohttp.ClientSession() as s,
        s.get(url.replace("/inventory/containers", "/metrics")) as r,
    ):
        text = await r.text()
    base = 'plugin="inventory",kind="inventory",type="filter"'
    assert f'qframe_requests_total{{{base},result="found"}} 1' in text
    assert f"qframe_containers{{{base}}} 1" in text
    assert f"qframe_pending_requests{{{base}}} 0" in text


async def test_a_long_poll_for_a_container_that_never_comes_is_a_404_after_the_wait(
    served: tuple[Harness, str],
) -> None:
    h, url = served
    status, body = await get(url, ip="10.88.0.200", wait="300ms")
    assert status == 404
    assert body == {"error": "not found", "query": {"ip": "10.88.0.200"}, "wait_s": 0.3}
    assert h.plugin("inventory").metrics.counter("requests", result="timeout") == 1


async def test_an_empty_key_is_a_404_at_once_and_a_bad_wait_a_400(
    served: tuple[Harness, str],
) -> None:
    h, url = served
    status, _ = await get(url, name="", wait="1h")
    assert status == 404
    assert len(h.plugin("inventory").pending) == 0
    status, body = await get(url, name="x", wait="soon")
    assert status == 400 and "duration" in body["error"]
