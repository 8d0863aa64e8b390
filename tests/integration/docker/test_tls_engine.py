"""A tcp:// engine behind mutual TLS (Podman's API socket behind socat's OpenSSL listener)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.testing import Harness, wait_until
from tests.integration.docker.helpers import of, pipeline
from tests.services.pki import client_tls, tls_proxy
from tests.services.podman import PodmanService


@pytest.fixture
def tls_engine(podman: PodmanService, pki: Path) -> Iterator[int]:
    """The engine on a TCP port that speaks TLS only to clients with a certificate of the CA."""
    with tls_proxy(pki, f"UNIX-CONNECT:{podman.socket_path}") as port:
        yield port


async def test_events_arrive_from_an_engine_that_asks_for_a_client_certificate(
    podman: PodmanService, tls_engine: int, pki: Path, tmp_path: Path
) -> None:
    cfg = pipeline(f"tcp://127.0.0.1:{tls_engine}", tmp_path, {"docker-events": client_tls(pki)})
    async with Harness(cfg) as h:
        events = h.plugin("docker-events")
        await wait_until(lambda: events.watcher.connections > 0, timeout=20)
        name = podman.unique("tls")
        cid = podman.run(name)
        await wait_until(
            lambda: any(m.fields["action"] == "start" for m in of(h.captured("out"), name))
        )
        assert events.metrics.state == "ok"
    podman.rm(name)
    start = next(m for m in of(h.captured("out"), name) if m.fields["action"] == "start")
    assert start.container is not None and start.container.id == cid  # inspected over TLS too


async def test_without_a_client_certificate_the_plugin_is_degraded_and_says_why(
    tls_engine: int, pki: Path, tmp_path: Path
) -> None:
    cfg = pipeline(
        f"tcp://127.0.0.1:{tls_engine}",
        tmp_path,
        {"docker-events": {"tls-ca": str(pki / "ca.pem"), "reconnect-max": "1s"}},
    )
    async with Harness(cfg) as h:
        events = h.plugin("docker-events")
        await wait_until(lambda: events.metrics.state == "degraded", timeout=20)
        reason = events.metrics.state_reason
        assert events.watcher.connections == 0
    assert reason.startswith("docker engine unavailable: ")  # (the TLS alert or a reset)
