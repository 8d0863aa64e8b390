"""Disk buffers (issue #13): tcp → elasticsearch into the minimal bulk sink of
bench_handlers.py with ``buffer: {type: disk}`` against ``memory``, in the same run, and
a backlog on disk drained into the sink.

- tcp → elasticsearch: ``BENCH_LINES`` (default 200,000) Apache lines over one
  connection into a tcp collector, to the last document confirmed by the sink; each mode
  best of 3, alternating.  Target: disk ≥ 0.6 × memory.
- backlog: ``BENCH_BACKLOG_MIB`` (default 1024) of records written by the buffer's own
  store (documents encoded as the handler does), then qframe started on it: events/s from
  start to the buffer empty.  Target ≥ 100,000 events/s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_handlers import SINK, _wait_port  # noqa: E402
from common import apache_lines, bench_lines, report  # noqa: E402
from tests.services import free_port  # noqa: E402

from qframe.buffer.queue import buffer_path, pack_items  # noqa: E402
from qframe.buffer.store import DiskStore  # noqa: E402
from qframe.message import Message  # noqa: E402
from qframe.plugins.handlers.elasticsearch.encode import DocumentEncoder  # noqa: E402
from qframe.runtime.tuning import tune_process  # noqa: E402
from qframe.testing import Harness  # noqa: E402


def config(data_dir: str, port: int, sink: str, buffer: str) -> dict[str, Any]:
    return {
        "tick": "0.2s",
        "data-dir": data_dir,
        "collector": {"tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port}},
        "handler": {
            "out": {
                "kind": "elasticsearch",
                "inputs": ["tcp"],
                "url": sink,
                "batch-size": 1000,
                "max-in-flight": 2,
                "buffer": {"type": buffer},
            }
        },
    }


async def tcp_run(data: bytes, n: int, data_dir: str, sink: str, buffer: str) -> float:
    port = free_port()
    async with Harness(config(data_dir, port, sink, buffer)) as h:
        out = h.plugin("out")
        t0 = time.perf_counter()
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(data)
        await w.drain()
        w.close()
        await h.wait_for(
            lambda: out.metrics.counter("delivered") >= n, timeout=600, what="all delivered"
        )
        return time.perf_counter() - t0


def bench_tcp(n: int, tmp: str, sink: str) -> None:
    data = "".join(line + "\n" for line in apache_lines(n)).encode()
    best: dict[str, float] = {"memory": 1e9, "disk": 1e9}
    for r in range(3):
        for mode in ("memory", "disk"):
            dt = asyncio.run(tcp_run(data, n, f"{tmp}/{mode}-{r}", sink, mode))
            best[mode] = min(best[mode], dt)
    mem, disk = n / best["memory"], n / best["disk"]
    note = f"{n} Apache lines over one tcp connection to the last document confirmed; best of 3"
    report("tcp → elasticsearch, memory buffer", "lines_per_s", mem, "lines/s", note)
    report("tcp → elasticsearch, disk buffer", "lines_per_s", disk, "lines/s", note)
    report("tcp → elasticsearch, disk / memory", "ratio", disk / mem, "×", "same run; target ≥ 0.6")


def fill_backlog(data_dir: str, mib: int) -> int:
    """Records of encoded documents (1,000 per record) until ``mib`` MiB; the events."""
    enc = DocumentEncoder("qframe-%Y.%m.%d")
    docs = []
    for i, line in enumerate(apache_lines(20_000)):
        docs.append(enc.encode(Message(message=line, host="bench", time=1.7e9 + i)) or b"")
    store = DiskStore(buffer_path(data_dir, "out"), segment_bytes=32 * 2**20)
    store.open()
    events, target, k = 0, mib * 2**20, 0
    while store.bytes < target:
        chunk = docs[k : k + 1000]
        k = (k + 1000) % len(docs)
        store.append(pack_items(chunk), len(chunk))
        events += len(chunk)
    store.close()
    return events


async def drain_run(data_dir: str, events: int, sink: str) -> float:
    async with Harness(config(data_dir, free_port(), sink, "disk")) as h:
        out = h.plugin("out")
        t0 = time.perf_counter()
        await h.wait_for(
            lambda: out.metrics.counter("delivered") >= events, timeout=1800, what="drained"
        )
        return time.perf_counter() - t0


def bench_backlog(tmp: str, sink: str) -> None:
    mib = int(os.environ.get("BENCH_BACKLOG_MIB", "1024"))
    data_dir = f"{tmp}/backlog"
    t0 = time.perf_counter()
    events = fill_backlog(data_dir, mib)
    fill = time.perf_counter() - t0
    dt = asyncio.run(drain_run(data_dir, events, sink))
    note = f"{mib} MiB backlog ({events} documents), start to empty; target ≥ 100,000"
    report("disk buffer backlog → elasticsearch", "events_per_s", events / dt, "events/s", note)
    report("disk buffer backlog fill (store alone)", "mib_per_s", mib / fill, "MiB/s", "")


def main() -> None:
    import logging

    logging.getLogger("qframe").setLevel(logging.WARNING)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    tune_process()
    n = bench_lines(200_000)
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        _wait_port(port)
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            bench_tcp(n, tmp, url)
            bench_backlog(tmp, url)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
