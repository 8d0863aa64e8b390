"""The engine's API goes away mid-stream and comes back: nothing is lost, nothing doubled."""

from __future__ import annotations

import time
from pathlib import Path

from qframe.testing import Harness, wait_until
from tests.integration.docker.helpers import (
    COUNTER,
    numbers,
    of,
    pipeline,
    podman_count,
    wait_or_explain,
)
from tests.services.podman import PodmanService


async def test_stopping_and_restarting_the_api_service_loses_no_events_and_no_log_lines(
    podman: PodmanService, tmp_path: Path
) -> None:
    counter, during = podman.unique("counter"), podman.unique("during")
    config = pipeline(
        podman.docker_host,
        tmp_path,
        {
            "docker-events": {},
            "docker-logs": {"inputs": ["docker-events"], "rescan": 0},
            "docker-stats": {"inputs": ["docker-events"], "rescan": 0},
        },
    )
    try:
        async with Harness(config) as h:
            out = h.captured("out")
            events, logs = h.plugin("docker-events"), h.plugin("docker-logs")
            await wait_until(lambda: events.watcher.connections > 0)
            podman.run(counter, "sh", "-c", COUNTER)
            await wait_until(lambda: len(numbers(out, counter)) >= 5, timeout=20)

            podman.stop_service()
            await wait_until(lambda: events.metrics.state == "degraded", timeout=20)
            await wait_until(lambda: logs.metrics.state == "degraded", timeout=20)
            assert "unavailable" in events.metrics.state_reason
            # meanwhile: a container comes and writes, the counter goes on
            podman.run(during, "sh", "-c", "echo written during the outage; sleep 3600")
            before = len(numbers(out, counter))
            await wait_until(lambda: podman_count(podman, counter) >= before + 10, timeout=20)
            podman.start_service()
            back = time.time()

            await wait_or_explain(
                h,
                lambda: any(m.fields.get("action") == "start" for m in of(out, during, "event")),
                timeout=30,
            )
            await wait_or_explain(h, lambda: len(of(out, during, "log")) >= 1, timeout=30)
            await wait_or_explain(h, lambda: len(numbers(out, counter)) >= before + 15, timeout=30)
            await wait_until(lambda: events.metrics.state == "ok" and logs.metrics.state == "ok")
            # the stats streams are open again: samples taken after the engine came back
            await wait_until(
                lambda: any(m.time > back for m in of(out, counter, "metric")), timeout=30
            )
            await wait_until(lambda: any(m.time > back for m in of(out, during, "metric")))
    finally:
        podman.start_service()
        podman.rm(counter, during)
    seen = numbers(out, counter)
    assert seen == list(range(len(seen)))  # no gap, no duplicate
    assert [m.message for m in of(out, during, "log")] == ["written during the outage"]
    actions = [m.fields["action"] for m in of(out, during, "event")]
    assert actions.count("create") == 1 and actions.count("start") == 1
    ids = [m.id for m in out]
    assert len(ids) == len(set(ids))
