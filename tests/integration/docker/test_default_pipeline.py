"""The embedded default pipeline (defaults.DOCKER_PIPELINE) as it is, against Podman."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import yaml

from qframe.defaults import DOCKER_PIPELINE
from qframe.testing import Harness, wait_until
from tests.integration.docker.helpers import COUNTER, numbers, of
from tests.services import free_port
from tests.services.podman import PodmanService


async def test_a_container_running_before_qframe_starts_is_covered_by_all_three_collectors(
    podman: PodmanService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = podman.unique("before")
    podman.run(name, "sh", "-c", COUNTER, network="bridge")
    port = free_port()
    monkeypatch.setenv("DOCKER_HOST", podman.docker_host)
    monkeypatch.setenv("QFRAME_HTTP", f"127.0.0.1:{port}")
    config = yaml.safe_load(DOCKER_PIPELINE)
    # the same pipeline, with the log handler swapped for one the test can read
    config["handler"]["log"] = {"kind": "capture", "inputs": config["handler"]["log"]["inputs"]}
    config["data-dir"] = str(tmp_path)
    try:
        async with Harness(config) as h:
            out = h.captured("log")

            def covered() -> bool:
                return (
                    any(m.fields.get("action") == "running" for m in of(out, name, "event"))
                    and len(numbers(out, name)) >= 3
                    and any(
                        m.metric is not None and m.metric.name == "docker_container_mem"
                        for m in of(out, name, "metric")
                    )
                )

            await wait_until(covered, timeout=30, what="event, log lines and metrics")
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"http://127.0.0.1:{port}/health") as r,
            ):
                health = await r.json()
    finally:
        podman.rm(name)
    states = {p["plugin"]: p["state"] for p in health["plugins"]}
    for plugin in ("docker-events", "docker-logs", "docker-stats", "metrics"):
        assert states[plugin] == "ok"
    got = numbers(out, name)
    assert got == list(range(got[0], got[0] + len(got)))
