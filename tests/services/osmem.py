"""An OpenSearch-compatible in-memory server (``osmem-server`` from PyPI) for tests.

::

    from tests.services.osmem import Osmem

    server = Osmem.start()          # calls tests.services.unavailable() when it cannot start
    try:
        server.url                   # "http://127.0.0.1:PORT"
        server.count("qframe-*")     # documents in the matching indices (refreshes first)
        server.search("qframe-*", size=100)      # list of hits: {"_index", "_id", "_source"}
        server.request("GET", "/_cat/indices?format=json")
    finally:
        server.stop()

The server holds everything in memory: a restart (``restart()``) starts empty on the
same port.  It is slow (about 2,000 docs/s): use it for correctness only.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from typing import Any

from . import free_port, http_answers, spawn_until_ready, terminate, unavailable

__all__ = ["Osmem", "OsmemHttpError"]


class OsmemHttpError(RuntimeError):
    """A request answered with an error status (``status`` and decoded ``body``)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"osmem answered {status}: {body}")
        self.status = status
        self.body = body


def _binary() -> str | None:
    try:
        from osmem_server import resolve_binary
    except ImportError:
        return None
    try:
        return resolve_binary()
    except Exception:
        return None


class Osmem:
    """One ``osmem-server`` process on a free loopback port."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- life ----------------------------------------------------------------------
    @classmethod
    def start(cls, port: int | None = None, timeout: float = 20.0) -> Osmem:
        """Start a server (or call :func:`tests.services.unavailable`)."""
        binary = _binary()
        if binary is None or not os.access(binary, os.X_OK):
            unavailable("osmem-server is not installed (pip install osmem-server)")
            raise AssertionError("unreachable")
        server = cls(binary, port or free_port())
        if not server._spawn(timeout):
            unavailable(f"osmem-server did not answer on {server.url} within {timeout}s")
        return server

    def _spawn(self, timeout: float) -> bool:
        cmd = [self.binary, "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch", "-no-ja"]
        self.proc = spawn_until_ready(cmd, self.alive, timeout)
        return self.proc is not None

    def alive(self) -> bool:
        return http_answers(self.url + "/")

    def stop(self) -> None:
        """Kill the process (everything it held is gone)."""
        p, self.proc = self.proc, None
        terminate(p, 5.0)

    def restart(self, timeout: float = 20.0) -> None:
        """Stop and start again, empty, on the same port."""
        self.stop()
        if not self._spawn(timeout):
            raise RuntimeError(f"osmem-server did not come back on {self.url}")

    # -- requests ------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None) -> Any:
        """``method path`` with a JSON body; the decoded JSON answer (OsmemHttpError on >= 400)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raw = e.read().decode()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw
            raise OsmemHttpError(e.code, parsed) from None
        if not text:
            return {}
        try:
            return json.loads(text)
        except ValueError:
            return text

    def refresh(self, index: str = "_all") -> None:
        try:
            self.request("POST", f"/{index}/_refresh")
        except OsmemHttpError:
            pass

    def count(self, index: str = "_all", query: dict[str, Any] | None = None) -> int:
        """Number of documents in ``index`` (a name, pattern or ``_all``); 0 when none exists."""
        self.refresh(index)
        body = {"query": query} if query else None
        try:
            res = self.request("POST" if body else "GET", f"/{index}/_count", body)
        except OsmemHttpError as e:
            if e.status == 404:
                return 0
            raise
        return int(res["count"])

    def search(
        self, index: str = "_all", query: dict[str, Any] | None = None, size: int = 10_000
    ) -> list[dict[str, Any]]:
        """The hits (``_index``, ``_id``, ``_source``) of a query (default match_all)."""
        self.refresh(index)
        body = {"query": query or {"match_all": {}}, "size": size}
        try:
            res = self.request("POST", f"/{index}/_search", body)
        except OsmemHttpError as e:
            if e.status == 404:
                return []
            raise
        return list(res["hits"]["hits"])

    def indices(self) -> list[str]:
        res = self.request("GET", "/_cat/indices?format=json")
        if isinstance(res, list):
            return sorted(r["index"] for r in res)
        return sorted(line.split()[2] for line in str(res).splitlines() if line.strip())

    def mapping(self, index: str) -> dict[str, Any]:
        res = self.request("GET", f"/{index}/_mapping")
        return dict(res[index]["mappings"].get("properties", {}))
