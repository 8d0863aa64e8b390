"""Scale-out end to end: 3 agents → a 3-node JetStream cluster (R3) → 2 aggregators → Elasticsearch.

Real processes (``qframe run``), a real cluster, a real Elasticsearch-compatible server.
During the run one aggregator is killed with SIGKILL and started again, and the node
leading the stream is stopped; every line still arrives exactly once.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qframe.testing import wait_until
from tests.integration.file.helpers import QframeRun, file_collector
from tests.services import free_port
from tests.services.nats import NatsCluster
from tests.services.osmem import Osmem

STREAM = "SCALE"
PER_SOURCE = 400  # lines per agent per collector and per phase


@pytest.fixture
def cluster() -> Iterator[NatsCluster]:
    c = NatsCluster.start(3)
    try:
        yield c
    finally:
        c.close()


def agent_config(i: int, tmp: Path, urls: list[str], port: int, log: Path) -> dict[str, Any]:
    return {
        "tick": "100ms",
        "log": {"level": "info"},
        "data-dir": str(tmp / "data"),
        "collector": {
            "tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port},
            "files": file_collector(log),
        },
        "handler": {
            "bus": {
                "kind": "nats",
                "inputs": ["tcp", "files"],
                "url": urls,
                "stream": STREAM,
                "subject": "scale.{kind}",
                "stream-subjects": ["scale.>"],
                "replicas": 3,
                "batch-size": 100,
                "compression": "zstd" if i % 2 else "none",
                "retry-initial": "50ms",
                "retry-max": "1s",
                "reconnect-wait": "200ms",
                "request-timeout": "3s",
            }
        },
    }


def aggregator_config(tmp: Path, urls: list[str], es: str) -> dict[str, Any]:
    return {
        "tick": "100ms",
        "log": {"level": "info"},
        "data-dir": str(tmp / "data"),
        "collector": {
            "bus": {
                "kind": "nats",
                "url": urls,
                "stream": STREAM,
                "durable": "indexers",
                "ack-wait": "4s",
                "batch": 4,
                "reconnect-wait": "200ms",
                "request-timeout": "3s",
            }
        },
        "handler": {
            "es": {
                "kind": "elasticsearch",
                "inputs": ["bus"],
                "url": es,
                "retry-initial": "50ms",
                "retry-max": "1s",
            }
        },
    }


async def send_tcp(port: int, lines: list[str]) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
    w.write("".join(f"{x}\n" for x in lines).encode())
    await w.drain()
    w.close()
    await w.wait_closed()


def append(log: Path, lines: list[str]) -> None:
    with open(log, "a") as f:
        f.write("".join(f"{x}\n" for x in lines))


def phase_lines(i: int, source: str, phase: int) -> list[str]:
    start = phase * PER_SOURCE
    return [f"agent{i} {source} {n:06d}" for n in range(start, start + PER_SOURCE)]


async def test_three_agents_two_aggregators_every_line_exactly_once(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    es = Osmem.start()
    runs: list[QframeRun] = []
    try:
        urls = cluster.urls
        agents = []
        for i in range(3):
            d = tmp_path / f"agent{i}"
            d.mkdir()
            log = d / "app.log"
            log.write_bytes(b"")
            port = free_port(socket.SOCK_STREAM)
            run = QframeRun(d, agent_config(i, d, urls, port, log))
            agents.append((run, port, log))
            runs.append(run)
        aggs = []
        for j in range(2):
            d = tmp_path / f"aggregator{j}"
            d.mkdir()
            run = QframeRun(d, aggregator_config(d, urls, es.url))
            aggs.append(run)
            runs.append(run)
        for run in runs:
            run.start()
        expected: list[str] = []
        for phase in (0, 1):
            for i, (_, port, log) in enumerate(agents):
                tcp_lines, file_lines = phase_lines(i, "tcp", phase), phase_lines(i, "file", phase)
                await send_tcp(port, tcp_lines)
                append(log, file_lines)
                expected += tcp_lines + file_lines
            if phase == 0:
                await wait_until(
                    lambda: es.count("qframe-*") >= 600, timeout=60, what="a first part indexed"
                )
                aggs[0].kill()  # SIGKILL: its unacknowledged batches come again
                leader = cluster.stream_leader(STREAM)
                assert leader is not None
                leader.stop()
                aggs[0].start()
                stopped = leader
        total = len(expected)
        await wait_until(
            lambda: es.count("qframe-*") >= total, timeout=120, what="every line indexed"
        )
        for run in runs:
            assert run.alive(), run.stderr()[-2000:]
        new_leader = cluster.stream_leader(STREAM)
        assert new_leader is not None and new_leader is not stopped
        docs = es.search("qframe-*", size=total + 100)
        got = Counter(d["_source"]["message"] for d in docs)
        assert len(docs) == total
        assert got == Counter(expected)
        assert len({d["_id"] for d in docs}) == total
        assert all(d["_source"]["source_path"][-2:] == ["bus", "es"] for d in docs)
    finally:
        codes = [run.stop() for run in runs]
        es.stop()
    assert codes == [0] * len(runs), "\n".join(r.stderr()[-1500:] for r in runs)
    stderr = "".join(r.stderr() for r in runs)
    assert "Traceback" not in stderr, stderr[-3000:]
    # the agents' run summaries: everything read was confirmed by JetStream
    for run in runs[:3]:
        assert f"read {4 * PER_SOURCE}, delivered {4 * PER_SOURCE}," in run.stderr()
