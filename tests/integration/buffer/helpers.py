"""Shared by the disk-buffer integration tests: qframe as a subprocess, tcp in, osmem out."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from qframe.testing import metric_value, read_metrics, wait_until
from tests.integration.file.helpers import QframeRun
from tests.services import free_port

__all__ = ["BufferedRun", "buffer_kill_restart", "drained", "os_lines", "send"]


class BufferedRun(QframeRun):
    """tcp on a fixed port → one handler with ``buffer: {type: disk}``; /metrics, /health."""

    def __init__(self, tmp: Path, handler: dict[str, Any], **buffer: Any) -> None:
        delivery = {"retry-initial": "100ms", "retry-max": "500ms"}
        if handler.get("kind") == "log":  # not a delivering handler: no retry options
            delivery = {}
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.data = tmp / "data"
        config = {
            "log": {"level": "info"},
            "tick": "100ms",
            "data-dir": str(self.data),
            "http": f"127.0.0.1:{self.http_port}",
            "collector": {
                "tcp": {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": self.tcp_port}
            },
            "handler": {
                "out": {
                    "inputs": ["tcp"],
                    **delivery,
                    "buffer": {"type": "disk", "fsync-interval": "100ms", **buffer},
                    **handler,
                }
            },
        }
        self.config = config
        super().__init__(tmp, config)

    def reconfigure(self, **handler: Any) -> None:
        """Change the handler's options for the next start (the same instance name)."""
        self.config["handler"]["out"].update(handler)
        self.conf.write_text(json.dumps(self.config))

    def metrics(self) -> str:
        return read_metrics(self.http_port)

    def metric(self, name: str) -> float:
        return metric_value(self.metrics(), name, plugin="out")

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/health", timeout=2
            ) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as e:
            return dict(json.loads(e.read()))
        except OSError:
            return {}

    def out_health(self) -> dict[str, Any]:
        for p in self.health().get("plugins", []):
            if p["plugin"] == "out":
                return dict(p)
        return {}


async def buffer_kill_restart(run: BufferedRun, n: int) -> None:
    """Start qframe (its destination down), send ``n`` lines, wait until the disk buffer
    holds them all, SIGKILL qframe and start it again: the backlog is read back whole."""
    run.start()
    await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
    send(run.tcp_port, range(n))
    await wait_until(
        lambda: run.metric("qframe_disk_buffer_events") >= n,
        timeout=120,
        what="every line in the disk buffer",
    )
    assert run.metric("qframe_disk_buffer_written_total") == n
    run.kill()
    run.start()
    await wait_until(
        lambda: run.metric("qframe_disk_buffer_events") == n,
        timeout=60,  # a start under load takes seconds, and the backlog is read back whole
        what="the backlog read back after the kill",
    )


def backlog(run: BufferedRun) -> float | None:
    """The disk buffer's events gauge; None while qframe does not answer (not 0)."""
    text = run.metrics()
    if "qframe_disk_buffer_events{" not in text:
        return None
    return metric_value(text, "qframe_disk_buffer_events", plugin="out")


async def drained(run: BufferedRun) -> None:
    """Wait until the disk buffer is empty (the destination confirmed everything)."""
    await wait_until(
        lambda: backlog(run) == 0,
        timeout=120,
        what="the backlog drained",
    )


def send(port: int, lines: range, tag: str = "line") -> None:
    """Lines ``<tag> <n>`` over one connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"".join(f"{tag} {n}\n".encode() for n in lines))


def os_lines(server: Any, index: str = "qframe-*") -> tuple[Counter[str], int]:
    """Every message in the index (how often each, read with scroll) and the doc count."""
    total = server.count(index)
    c: Counter[str] = Counter()
    if total == 0:
        return c, 0
    res = server.request("POST", f"/{index}/_search?scroll=1m", {"size": 5000})
    while hits := res["hits"]["hits"]:
        c.update(str(h["_source"].get("message", "")) for h in hits)
        res = server.request(
            "POST", "/_search/scroll", {"scroll": "1m", "scroll_id": res["_scroll_id"]}
        )
    return c, total
