"""A real NATS JetStream (``nats-server`` from Debian) for tests: one node or a 3-node cluster.

::

    from tests.services.nats import NatsServer, NatsCluster

    server = NatsServer.start()        # own store dir under a temp dir, free port
    server.url                         # "nats://127.0.0.1:PORT"
    server.stop(); server.start_again()   # down for a while; the store is kept
    server.close()                     # stop and remove the temp dir

    cluster = NatsCluster.start(3)     # three nodes, routes between them, JetStream ready
    cluster.urls                       # every node's client URL
    cluster.stream_leader("QFRAME")    # the node that leads a stream (from /jsz)
    cluster.close()

Each node serves its monitoring port (``/healthz``, ``/jsz``) on loopback too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import free_port, http_answers, require_binary, spawn_until_ready, terminate, unavailable

__all__ = ["NatsCluster", "NatsServer"]


class NatsServer:
    """One nats-server process with JetStream, its config and store under ``root``."""

    def __init__(self, binary: str, root: Path, name: str = "n1") -> None:
        self.binary = binary
        self.root = root
        self.name = name
        self.port = free_port()
        self.http_port = free_port()
        self.cluster_port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.config = root / f"{name}.conf"
        self.store = root / f"{name}-store"
        self.routes: list[int] = []
        self.cluster = ""
        self.extra = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        lines = [
            f'server_name: "{self.name}"',
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.http_port}",
            f'jetstream {{ store_dir: "{self.store}" }}',
        ]
        if self.cluster:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes)
            lines.append(
                f'cluster {{ name: "{self.cluster}", listen: 127.0.0.1:{self.cluster_port},'
                f" routes: [{routes}] }}"
            )
        if self.extra:
            lines.append(self.extra)
        self.config.write_text("\n".join(lines) + "\n")

    @classmethod
    def start(cls, timeout: float = 20.0, extra: str = "") -> NatsServer:
        """Start a single node (or call :func:`tests.services.unavailable`)."""
        binary = require_binary("nats-server")
        server = cls(binary, Path(tempfile.mkdtemp(prefix="qframe-nats-")))
        server.extra = extra
        server.write_config()
        if not server.start_again(timeout, check=False):
            log = server.log_tail()
            server.close()
            unavailable(f"nats-server did not start within {timeout}s: {log}")
        return server

    def start_again(self, timeout: float = 20.0, check: bool = True) -> bool:
        if self.proc is not None and self.proc.poll() is None:
            return True
        log = open(self.root / f"{self.name}.log", "ab")
        try:
            self.proc = spawn_until_ready(
                [self.binary, "-c", str(self.config)], self.healthy, timeout, log
            )
        finally:
            log.close()
        if self.proc is None and check:
            raise RuntimeError(f"nats-server {self.name} did not come back: {self.log_tail()}")
        return self.proc is not None

    def healthy(self) -> bool:
        return http_answers(f"http://127.0.0.1:{self.http_port}/healthz")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        p, self.proc = self.proc, None
        terminate(p, 10.0)

    def kill(self) -> None:
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, n: int = 800) -> str:
        try:
            return (self.root / f"{self.name}.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def monitor(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=5) as r:
            return json.loads(r.read())


class NatsCluster:
    """Several JetStream nodes on loopback, routed to each other (one cluster)."""

    def __init__(self, nodes: list[NatsServer]) -> None:
        self.nodes = nodes

    @classmethod
    def start(cls, n: int = 3, timeout: float = 30.0) -> NatsCluster:
        binary = require_binary("nats-server")
        root = Path(tempfile.mkdtemp(prefix="qframe-natsc-"))
        nodes = [NatsServer(binary, root, f"n{i + 1}") for i in range(n)]
        for node in nodes:
            node.cluster = "qframe-test"
            node.routes = [o.cluster_port for o in nodes if o is not node]
            node.write_config()
        cluster = cls(nodes)
        deadline = time.monotonic() + timeout
        procs = []
        for node in nodes:  # all at once: each waits for its peers before it is healthy
            log = open(root / f"{node.name}.log", "ab")
            procs.append(
                subprocess.Popen(
                    [binary, "-c", str(node.config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            )
            log.close()
            node.proc = procs[-1]
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            if all(node.healthy() for node in nodes) and cluster.meta_leader():
                return cluster
            time.sleep(0.1)
        tail = nodes[0].log_tail()
        cluster.close()
        unavailable(f"a {n}-node NATS cluster did not form within {timeout}s: {tail}")
        raise AssertionError("unreachable")

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def meta_leader(self) -> str:
        for node in self.nodes:
            if not node.alive():
                continue
            try:
                jsz = node.monitor("/jsz")
            except (OSError, ValueError):
                continue
            leader = (jsz.get("meta_cluster") or {}).get("leader")
            if leader:
                return str(leader)
        return ""

    def stream_leader(self, stream: str) -> NatsServer | None:
        """The node leading ``stream`` (None when no live node knows)."""
        for node in self.nodes:
            if not node.alive():
                continue
            try:
                jsz = node.monitor("/jsz?streams=true")
            except (OSError, ValueError):
                continue
            for acc in jsz.get("account_details") or []:
                for s in acc.get("stream_detail") or []:
                    if s.get("name") == stream:
                        leader = (s.get("cluster") or {}).get("leader")
                        for n in self.nodes:
                            if n.name == leader:
                                return n
        return None

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.nodes:
            shutil.rmtree(self.nodes[0].root, ignore_errors=True)
