"""deploy/grafana (issue #16): every query of the dashboards against what qframe writes.

- docker-stats.json: each InfluxQL query (template variables filled in as Grafana would)
  runs against a real influxd holding qframe's docker-stats points, and returns series.
- qframe.json: each PromQL metric name is one ``/metrics`` exposes.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from qframe.testing import Harness, wait_until
from tests.services import free_port
from tests.services.influxdb import Influxd
from tests.services.podman import PodmanService

from .conftest import ROOT, readme_block

DASHBOARDS = ROOT / "deploy" / "grafana"
DB = "qframe"


def influxql(d: dict[str, Any]) -> list[str]:
    qs = [v["query"] for v in d["templating"]["list"] if v["type"] == "query"]
    return qs + [t["query"] for p in d["panels"] for t in p["targets"]]


def fill(q: str, host: str | None, container: str) -> str:
    """Grafana's interpolation: a single value is regex-escaped in /^$var$/; All is .*"""
    return (
        q.replace("$host", re.escape(host) if host else ".*")
        .replace("$container", re.escape(container))
        .replace("$timeFilter", "time > now() - 1h")
        .replace("$__interval", "1s")
    )


async def test_every_influxql_query_of_the_docker_stats_dashboard_returns_series(
    podman: PodmanService, tmp_path: Path
) -> None:
    dash = json.loads((DASHBOARDS / "docker-stats.json").read_text())
    server = Influxd.start()
    name = podman.unique("dash")
    config = yaml.safe_load(readme_block("tests/integration/deploy/test_dashboards.py"))
    config["http"] = f"127.0.0.1:{free_port()}"
    config["data-dir"] = str(tmp_path)
    for c in config["collector"].values():
        c["docker-host"] = podman.docker_host
    config["handler"]["influxdb"]["url"] = server.url
    count = f'SELECT count("usage") FROM "docker_container_mem" WHERE "container_name" = \'{name}\''
    try:
        async with Harness(config):
            podman.run(name, "sh", "-c", "while :; do echo x >> /tmp/f; sleep 0.2; done")

            def enough() -> bool:  # derivatives need points in several seconds
                try:
                    s = server.query(count, DB)
                except RuntimeError:  # the database is not there yet
                    return False
                return bool(s) and s[0]["values"][0][1] >= 4

            await wait_until(enough, timeout=60, what="4 docker-stats samples in influxd")
        hosts = server.query('SHOW TAG VALUES FROM "docker_container_cpu" WITH KEY = "host"', DB)
        # points have a host tag when their messages have a host; else "All" (.*) matches
        host = hosts[0]["values"][0][1] if hosts else None
        for q in influxql(dash):
            if host is None and 'KEY = "host"' in q:
                continue
            series = server.query(fill(q, host, name), DB)
            assert series, f"no series: {q}"
            assert any(v is not None for s in series for row in s["values"] for v in row[1:]), q
    finally:
        podman.rm(name)
        server.close()


async def test_every_promql_metric_of_the_qframe_dashboard_is_exposed_by_metrics(
    tmp_path: Path,
) -> None:
    dash = json.loads((DASHBOARDS / "qframe.json").read_text())
    exprs = [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\bqframe_[a-z_]+\b", e)}
    assert len(names) >= 6
    port = free_port()
    config = {
        "data-dir": str(tmp_path),
        "http": f"127.0.0.1:{port}",
        "collector": {"tcp": {"bind-host": "127.0.0.1", "bind-port": free_port()}},
        "handler": {"log": {"inputs": ["tcp"], "path": str(tmp_path / "out.log")}},
    }
    async with Harness(config):
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
    exposed = {
        ln.split("{")[0].split()[0] for ln in text.splitlines() if ln.startswith("qframe_")
    } | {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE qframe_")}
    assert names <= exposed, names - exposed
    assert 'plugin="tcp"' in text  # the label the panels sum by


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()  # type: ignore[no-any-return]
