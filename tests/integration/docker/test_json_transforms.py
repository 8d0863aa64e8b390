"""End to end: a container printing JSON lines → docker-logs (format: json) → date (the
line's own time) → mutate → elasticsearch (osmem): the documents carry the lines' times in
``@timestamp`` and land in the dated indices of those times."""

from __future__ import annotations

import json
from pathlib import Path

from qframe.testing import Harness, wait_until
from tests.services.osmem import Osmem
from tests.services.podman import PodmanService

LINES = [
    {"time": "2026-11-20T10:00:00.250Z", "level": "info", "msg": "first", "n": "1"},
    {"time": "2026-11-21T23:59:59Z", "level": "error", "msg": "second", "n": "2"},
    {"time": "2026-11-22T00:00:01+01:00", "level": "warn", "msg": "third", "n": "3"},
]


async def test_container_json_lines_are_indexed_by_their_own_time(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("jsonapp")
    script = "; ".join(f"echo '{json.dumps(x)}'" for x in LINES) + "; echo 'not json'; sleep 3600"
    es = Osmem.start()
    try:
        cfg = {
            "data-dir": str(tmp_path),
            "tick": "100ms",
            "collector": {
                "docker-events": {"docker-host": podman.docker_host},
                "docker-logs": {
                    "docker-host": podman.docker_host,
                    "inputs": ["docker-events"],
                    "format": "json",
                },
            },
            "filter": {
                "stamp": {
                    "kind": "date",
                    "inputs": ["docker-logs"],
                    "when": f'container.name == "{name}"',
                    "field": "fields.time",
                    "formats": ["ISO8601"],
                    "remove-field": True,
                },
                "tidy": {
                    "kind": "mutate",
                    "inputs": ["stamp"],
                    "rename": {"fields.msg": "message"},
                    "convert": {"fields.n": "int"},
                    "add-tags": ["app-%{fields.level}"],
                },
            },
            "handler": {
                "es": {
                    "kind": "elasticsearch",
                    "inputs": ["tidy"],
                    "url": es.url,
                    "when": f'container.name == "{name}"',
                    "retry-initial": "20ms",
                }
            },
        }
        async with Harness(cfg) as h:
            await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
            podman.run(name, "sh", "-c", script)
            await wait_until(lambda: es.count("qframe-*") == 4, timeout=30)
            assert h.plugin("docker-logs").metrics.counter("invalid_json") >= 1
        podman.rm(name)
        hits = {x["_source"]["message"]: x for x in es.search("qframe-*")}
        first, second, third = hits["first"], hits["second"], hits["third"]
        assert first["_source"]["@timestamp"] == "2026-11-20T10:00:00.250000Z"
        assert first["_index"] == "qframe-2026.11.20"
        assert second["_source"]["@timestamp"] == "2026-11-21T23:59:59.000000Z"
        assert second["_index"] == "qframe-2026.11.21"
        assert third["_source"]["@timestamp"] == "2026-11-21T23:00:01.000000Z"
        assert third["_index"] == "qframe-2026.11.21"
        assert first["_source"]["n"] == 1 and first["_source"]["tags"] == ["app-info"]
        assert second["_source"]["tags"] == ["app-error"] and "time" not in second["_source"]
        assert first["_source"]["container"]["name"] == name
        bad = hits["not json"]["_source"]
        assert "_jsonparsefailure" in bad["tags"] and "_dateparsefailure" in bad["tags"]
    finally:
        es.stop()
