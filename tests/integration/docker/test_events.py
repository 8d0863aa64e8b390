"""docker-events against the Podman Docker API: real containers, real events."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.testing import Harness, wait_until
from tests.integration.docker.helpers import of, pipeline
from tests.services import free_port, require_binary
from tests.services.podman import IMAGE, PodmanService


async def test_start_stop_and_remove_arrive_as_events_with_the_containers_metadata(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("ev")
    config = pipeline(podman.docker_host, tmp_path, {"docker-events": {}})
    async with Harness(config) as h:
        out = h.captured("out")
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        cid = podman.run(name, labels={"team": "ops"}, network="bridge")
        await wait_until(lambda: any(m.fields["action"] == "start" for m in of(out, name)))
        podman.stop(name)
        podman.rm(name)
        await wait_until(
            lambda: any(m.fields["action"] == "remove" for m in of(out, name)), timeout=20
        )
    events = of(out, name)
    actions = [m.fields["action"] for m in events]
    for a in ("create", "start", "die", "remove"):
        assert a in actions
    assert actions.index("create") < actions.index("start") < actions.index("die")
    start = events[actions.index("start")]
    assert start.message == f"{name}: container.start"
    assert start.kind == "event"
    assert start.fields["type"] == "container" and start.fields["actor_id"] == cid
    assert start.container is not None
    assert start.container.id == cid
    assert start.container.image == IMAGE
    assert start.container.image_id
    assert start.container.labels["team"] == "ops"
    assert start.container.ips["podman"].startswith("10.88.")
    assert start.container.command == "sleep 3600"
    assert start.time > 1.7e9 and start.id.startswith(cid)
    die = events[actions.index("die")]
    assert die.fields["attributes"]["name"] == name
    assert "exitCode" in die.fields["attributes"] or "containerExitCode" in die.fields["attributes"]
    assert len({m.id for m in events}) == len(events)


async def test_a_container_running_before_the_collector_starts_is_announced_as_running(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("pre")
    cid = podman.run(name, labels={"a.b": "c"})
    try:
        config = pipeline(podman.docker_host, tmp_path, {"docker-events": {}})
        async with Harness(config) as h:
            out = h.captured("out")
            await wait_until(lambda: bool(of(out, name)))
            (m,) = of(out, name)
        assert m.fields["action"] == "running"
        assert m.message == f"{name}: container.running"
        assert m.container is not None and m.container.id == cid
        assert m.container.labels == {"a.b": "c"}
    finally:
        podman.rm(name)


async def test_action_and_label_filters_keep_only_the_matching_events(
    podman: PodmanService, tmp_path: Path
) -> None:
    keep, other = podman.unique("keep"), podman.unique("other")
    config = pipeline(
        podman.docker_host,
        tmp_path,
        {"docker-events": {"actions": ["start", "remove"], "labels": ["team=ops"]}},
    )
    async with Harness(config) as h:
        out = h.captured("out")
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        podman.run(other, labels={"team": "dev"})
        podman.run(keep, labels={"team": "ops"})
        podman.rm(other, keep)
        await wait_until(lambda: len(of(out, keep)) >= 2, timeout=20)
    assert [m.fields["action"] for m in of(out, keep)] == ["start", "remove"]
    assert of(out, other) == []


@pytest.fixture
def tcp_engine(podman: PodmanService) -> Iterator[int]:
    """Podman's API socket behind socat on a TCP port: a tcp:// engine."""
    socat = require_binary("socat")
    port = free_port()
    proxy = subprocess.Popen(
        [
            socat,
            f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
            f"UNIX-CONNECT:{podman.docker_host[len('unix://') :]}",
        ]
    )
    try:
        yield port
    finally:
        proxy.terminate()
        proxy.wait()


def keepalive_timers(port: int) -> tuple[list[float], int]:
    """(seconds left on each keepalive timer, connections) of our connections to port."""
    listing = subprocess.run(
        [require_binary("ss"), "-tnoH", "state", "established", f"( dport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    units = {"ms": 0.001, "sec": 1.0, "min": 60.0}
    found = re.findall(r"timer:\(keepalive,([\d.]+)(ms|sec|min)", listing)
    return [float(v) * units[u] for v, u in found], len(listing.splitlines())


async def test_connections_to_a_tcp_engine_send_keepalive_probes_after_tcp_keepalive(
    podman: PodmanService, tcp_engine: int, tmp_path: Path
) -> None:
    """An engine whose host vanished without closing is noticed within seconds, not hours."""
    cfg = pipeline(
        f"tcp://127.0.0.1:{tcp_engine}", tmp_path, {"docker-events": {"tcp-keepalive": "7s"}}
    )
    async with Harness(cfg) as h:
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        name = podman.unique("ka")
        podman.run(name)
        await wait_until(lambda: bool(of(h.captured("out"), name)))  # events flow over TCP
        timers, connections = keepalive_timers(tcp_engine)
    podman.rm(name)
    assert connections >= 1 and len(timers) == connections  # every one has the timer
    assert max(timers) <= 7.0  # not the system's two hours
