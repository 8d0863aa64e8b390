"""The inventory against a real engine (Podman's Docker API): the seed's example run,
in-process and through the long-poll endpoint of a real ``qframe run``, and a container
on the bridge network whose tcp lines carry its name and image."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from qframe.inventory import ContainerQuery, ContainerReply
from qframe.message import Message
from qframe.testing import Harness, wait_until
from tests.conftest import Lines
from tests.services import free_port
from tests.services.podman import IMAGE, PodmanService

HOST_SIDE = "10.88.0.1"  # the host's address on podman's default bridge


def events_and_inventory(podman: PodmanService, **extra: Any) -> dict[str, Any]:
    return {
        "tick": "1s",
        "collector": {"docker-events": {"docker-host": podman.docker_host}},
        "filter": {"inventory": {"inputs": ["docker-events"]}},
        "handler": {"out": {"kind": "capture", "inputs": ["inventory"]}},
        **extra,
    }


async def ask(h: Harness, name: str) -> ContainerReply:
    reply = await h.pipeline.request("inventory", ContainerQuery(name=name, timeout=60), 70)
    assert isinstance(reply, ContainerReply)
    return reply


async def test_the_seeds_example_run_two_name_requests_answered_as_each_container_starts(
    podman: PodmanService, daemon_log: Lines
) -> None:
    n1, n2 = podman.unique("TestCnt1"), podman.unique("TestCnt2")
    try:
        async with Harness(events_and_inventory(podman)) as h:
            inv = h.plugin("inventory")
            # both requests are made before the containers exist
            t1 = asyncio.create_task(ask(h, "/" + n1))
            t2 = asyncio.create_task(ask(h, "/" + n2))
            await wait_until(lambda: len(inv.pending) == 2, what="two pending requests")
            id1 = await asyncio.to_thread(podman.run, n1)
            r1 = await asyncio.wait_for(t1, 30)
            assert r1.container is not None
            assert (r1.container.id, r1.container.name, r1.container.image) == (id1, n1, IMAGE)
            assert not t2.done() and len(inv.pending) == 1
            id2 = await asyncio.to_thread(podman.run, n2)
            r2 = await asyncio.wait_for(t2, 30)
            assert r2.container is not None
            assert (r2.container.id, r2.container.name, r2.container.image) == (id2, n2, IMAGE)
            assert len(inv.pending) == 0
        successes = [t for t in daemon_log.texts() if t.startswith("SUCCESS > Request:")]
        assert successes == [
            f"SUCCESS > Request: /{n1} (pending: 1)",
            f"SUCCESS > Request: /{n2} (pending: 0)",
        ]
    finally:
        await asyncio.to_thread(podman.rm, n1, n2)


@pytest.fixture
def daemon(podman: PodmanService, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real ``qframe run`` with docker-events → inventory and the http server."""
    port = free_port()
    config = {
        "log": {"level": "debug"},
        "tick": "1s",
        "http": f"127.0.0.1:{port}",
        "data-dir": str(tmp_path / "data"),
        "collector": {"docker-events": {"docker-host": podman.docker_host}},
        "filter": {"inventory": {"inputs": ["docker-events"]}},
        "handler": {"log": {"inputs": ["inventory"], "format": "json"}},
    }
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(yaml.safe_dump(config))
    err = tmp_path / "stderr.log"
    exe = Path(sys.executable).with_name("qframe")
    with open(err, "wb") as errf:
        proc = subprocess.Popen(
            [str(exe), "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=errf,
            env={**os.environ, "DOCKER_HOST": podman.docker_host},
        )
    try:
        yield f"http://127.0.0.1:{port}", err
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def _get(s: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, Any]:
    async with s.get(url, params=params) as r:
        return r.status, await r.json()


async def test_the_seeds_example_run_through_the_long_poll_endpoint_of_a_real_daemon(
    podman: PodmanService, daemon: tuple[str, Path]
) -> None:
    base, stderr = daemon
    url = base + "/inventory/containers"
    n1, n2 = podman.unique("TestCnt1"), podman.unique("TestCnt2")
    try:
        async with aiohttp.ClientSession() as s:

            async def up() -> bool:
                try:
                    async with s.get(base + "/health") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            for _ in range(200):
                if await up():
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"qframe did not serve /health:\n{stderr.read_text()[-2000:]}")
            p1 = asyncio.create_task(_get(s, url, name="/" + n1, wait="20s"))
            p2 = asyncio.create_task(_get(s, url, name=n2, wait="20s"))
            await wait_until(
                lambda: stderr.read_text().count("PENDING > Request:") >= 2,
                what="both long-polls pending in the daemon",
            )
            id1 = await asyncio.to_thread(podman.run, n1)
            status, body = await asyncio.wait_for(p1, 30)
            assert status == 200
            assert (body["id"], body["name"], body["image"]) == (id1, n1, IMAGE)
            assert not p2.done()
            id2 = await asyncio.to_thread(podman.run, n2)
            status, body = await asyncio.wait_for(p2, 30)
            assert status == 200 and body["id"] == id2 and body["name"] == n2
            # a container that never comes: 404 after the wait
            status, body = await _get(s, url, name=podman.unique("never"), wait="500ms")
            assert status == 404 and body["error"] == "not found"
            status, body = await _get(s, url)
            assert status == 200
            names = {c["name"]: c["state"] for c in body["containers"]}
            assert names[n1] == names[n2] == "running"
        log = stderr.read_text()
        assert f"[  INFO] inventory >> SUCCESS > Request: /{n1} (pending: 1)" in log
        assert f"[  INFO] inventory >> SUCCESS > Request: /{n2} (pending: 0)" in log
        assert log.index(f"/{n1} (pending: 1)") < log.index(f"/{n2} (pending: 0)")
    finally:
        await asyncio.to_thread(podman.rm, n1, n2)


def _log_lines(h: Harness) -> list[Message]:
    return [m for m in h.captured("out") if m.kind == "log"]


async def test_a_bridge_container_sending_to_tcp_carries_its_name_and_image(
    podman: PodmanService,
) -> None:
    name = podman.unique("sender")
    cid = await asyncio.to_thread(podman.run, name, network="bridge")
    try:
        nets = podman.inspect(name)["NetworkSettings"]["Networks"]
        ip = next(iter(nets.values()))["IPAddress"]
        assert ip.startswith("10.88.")
        direct, plain = free_port(), free_port()
        config = events_and_inventory(podman)
        config["collector"].update(
            {
                # the collector asks the inventory itself (Back channel, by remote IP)
                "tcp-direct": {
                    "kind": "tcp",
                    "bind-host": HOST_SIDE,
                    "bind-port": direct,
                    "inventory": "inventory",
                },
                # the inventory filter enriches on the data path (fields.remote_ip)
                "tcp-plain": {"kind": "tcp", "bind-host": HOST_SIDE, "bind-port": plain},
            }
        )
        config["filter"]["inventory"]["inputs"] = ["docker-events", "tcp-plain"]
        config["handler"]["out"]["inputs"] = ["inventory", "tcp-direct"]
        async with Harness(config) as h:
            inv = h.plugin("inventory")
            await wait_until(lambda: inv.index.by_ip(ip) is not None, 30, what="inventory")
            # busybox nc -e: the program's output is the connection, closed when it exits
            script = (
                f"nc {HOST_SIDE} {direct} -e echo hello-direct && "
                f"nc {HOST_SIDE} {plain} -e echo hello-enriched"
            )
            await asyncio.to_thread(podman.podman, "exec", name, "sh", "-c", script)
            await wait_until(lambda: len(_log_lines(h)) == 2, 30, what="two lines")
            by_text = {m.message: m for m in _log_lines(h)}
            assert set(by_text) == {"hello-direct", "hello-enriched"}
            for m in by_text.values():
                assert m.fields["remote_ip"] == ip
                assert m.container is not None, m.message
                assert (m.container.id, m.container.name, m.container.image) == (cid, name, IMAGE)
                assert "_inventory_miss" not in m.tags
            assert by_text["hello-enriched"].source_path == ["tcp-plain", "inventory", "out"]
    finally:
        await asyncio.to_thread(podman.rm, name)


async def test_a_removed_container_resolves_for_the_grace_period_then_is_forgotten(
    podman: PodmanService,
) -> None:
    name = podman.unique("brief")
    config = events_and_inventory(podman)
    config["filter"]["inventory"].update({"retain": "2s", "ticker-ms": 100})
    try:
        async with Harness(config) as h:
            inv = h.plugin("inventory")
            cid = await asyncio.to_thread(podman.run, name)
            await wait_until(lambda: inv.index.by_name(name) is not None, 30, what="started")
            await asyncio.to_thread(podman.rm, name)
            await wait_until(lambda: inv.index.gone == 1, 30, what="removal seen")
            e = inv.index.by_id(cid[:12])
            assert e is not None and e.state == "gone"  # late lines still resolve
            await wait_until(lambda: inv.index.get(cid) is None, 30, what="evicted")
            assert inv.index.by_name(name) is None
            assert inv.metrics.counter("evicted") == 1
    finally:
        await asyncio.to_thread(podman.rm, name)
