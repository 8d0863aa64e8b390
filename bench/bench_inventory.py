"""The inventory filter: enrichment throughput, lookup and Back-channel rates, memory.

In-process (a Harness pipeline pinned to one core): N lines (``BENCH_LINES``, default
500,000) from 1,000 senders known to the inventory go list → inventory → a counting
handler, and the same through ``id`` for the baseline.  Then direct index lookups,
Back-channel requests, and the memory held per container for 10,000 containers.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import bench_lines, report

from qframe.inventory import ContainerQuery
from qframe.logs import setup_logging
from qframe.message import KIND_EVENT, ContainerInfo, Message
from qframe.plugin import Handler
from qframe.plugins.filters.inventory.index import ContainerIndex
from qframe.testing import Harness, wait_until

CONTAINERS = 1000
BATCH = 1000


class Count(Handler):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.n = 0
        self.enriched = 0

    async def handle(self, batch: list[Message]) -> None:
        self.n += len(batch)
        self.enriched += sum(1 for m in batch if m.container is not None)


def container(i: int) -> ContainerInfo:
    return ContainerInfo(
        id=f"{i:012x}" + "a" * 52,
        name=f"web{i}",
        image="localhost/busybox:latest",
        labels={"app": f"web{i}", "tier": "front"},
        ips={"podman": ip(i)},
        command="sleep 3600",
    )


def ip(i: int) -> str:
    return f"10.88.{i // 250}.{i % 250 + 2}"


def start_event(c: ContainerInfo) -> Message:
    return Message(
        f"{c.name}: container.start",
        kind=KIND_EVENT,
        fields={"action": "start", "type": "container", "actor_id": c.id},
        container=c,
    )


async def throughput(kind: str, n: int) -> tuple[float, int]:
    config = {
        "log": {"level": "warn"},
        "tick": "1h",
        "collector": {
            "docker-events": {"kind": "list", "linger": True},
            "tcp": {"kind": "list", "linger": True},
        },
        "filter": {"f": {"kind": kind, "inputs": ["docker-events", "tcp"]}},
        "handler": {"out": {"kind": "count", "inputs": ["f"]}},
    }
    async with Harness(config, extra={("handler", "count"): Count}) as h:
        out = h.plugin("out")
        await h.plugin("docker-events").send([start_event(container(i)) for i in range(CONTAINERS)])
        await wait_until(lambda: out.n == CONTAINERS, 60)
        batches = [
            [
                Message("GET / 200", fields={"remote_ip": ip((b + j) % CONTAINERS)})
                for j in range(BATCH)
            ]
            for b in range(0, n, BATCH)
        ]
        tcp = h.plugin("tcp")
        t0 = time.perf_counter()
        for b in batches:
            await tcp.send(b)
        await wait_until(lambda: out.n == CONTAINERS + n, 600, interval=0.001)
        dt = time.perf_counter() - t0
        return dt, out.enriched - CONTAINERS


async def requests(n: int) -> float:
    config = {
        "log": {"level": "warn"},
        "tick": "1h",
        "collector": {"docker-events": {"kind": "list", "linger": True}},
        "filter": {"inventory": {"inputs": ["docker-events"]}},
        "handler": {"out": {"kind": "count", "inputs": ["inventory"]}},
    }
    async with Harness(config, extra={("handler", "count"): Count}) as h:
        out = h.plugin("out")
        await h.plugin("docker-events").send([start_event(container(i)) for i in range(CONTAINERS)])
        await wait_until(lambda: out.n == CONTAINERS, 60)
        t0 = time.perf_counter()
        for i in range(n):
            r = await h.pipeline.request("inventory", ContainerQuery(ip=ip(i % CONTAINERS)), 2.0)
            assert r.found
        return time.perf_counter() - t0


def lookups(n: int) -> float:
    idx = ContainerIndex()
    for i in range(CONTAINERS):
        idx.apply("start", container(i), 0.0)
    keys = [(container(i).id[:12], f"/web{i}", ip(i)) for i in range(CONTAINERS)]
    t0 = time.perf_counter()
    done = 0
    while done < n:
        for cid, name, addr in keys:
            idx.by_id(cid)
            idx.by_name(name)
            idx.by_ip(addr)
        done += 3 * len(keys)
    return done / (time.perf_counter() - t0)


def memory_per_container(count: int = 10_000) -> float:
    gc.collect()
    tracemalloc.start()
    idx = ContainerIndex()
    cs = [container(i) for i in range(count)]
    base = tracemalloc.get_traced_memory()[0]
    for c in cs:
        idx.apply("start", c, 0.0)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / count


def main() -> None:
    n = bench_lines(500_000)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    setup_logging("warn")
    one_core = "one core"
    dt_id = min(asyncio.run(throughput("id", n))[0] for _ in range(3))
    dt_inv = float("inf")
    for _ in range(3):
        dt, enriched = asyncio.run(throughput("inventory", n))
        if enriched != n:
            raise SystemExit(f"only {enriched} of {n} lines enriched")
        dt_inv = min(dt_inv, dt)
    note = (
        f"{n} lines from {CONTAINERS} known senders (fields.remote_ip), in-process, "
        f"{one_core}, best of 3"
    )
    report("inventory enrich", "lines_per_s", n / dt_inv, "lines/s", note)
    report(
        "inventory enrich", "baseline_id_lines_per_s", n / dt_id, "lines/s", note + "; id filter"
    )
    report(
        "inventory enrich",
        "overhead_us_per_line",
        (dt_inv - dt_id) / n * 1e6,
        "µs/line",
        "inventory minus id",
    )
    m = min(n, 100_000)
    report(
        "inventory lookup",
        "lookups_per_s",
        lookups(m * 3),
        "lookups/s",
        f"index by id prefix, /name and IP among {CONTAINERS} containers",
    )
    r = min(n // 10, 50_000)
    report(
        "inventory request",
        "requests_per_s",
        r / asyncio.run(requests(r)),
        "requests/s",
        f"{r} sequential Back-channel ContainerQuery(ip) answered at once",
    )
    report(
        "inventory memory",
        "bytes_per_container",
        memory_per_container(),
        "bytes",
        "index overhead per container (10,000 containers; the ContainerInfo itself excluded)",
    )


if __name__ == "__main__":
    main()
