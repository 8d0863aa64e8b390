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
import tempfile
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


def _binary() -> tuple[str | None, str]:
    """The server's executable, or None and why (the package missing, or the cause of the
    failure to find or unpack its binary, with its type: not every failure means "not
    installed")."""
    try:
        from osmem_server import resolve_binary
    except ImportError as exc:
        return None, f"osmem-server is not installed (pip install osmem-server): {exc}"
    try:
        path = resolve_binary()
    except Exception as exc:  # any cause is shown, none hidden
        return None, f"osmem-server's binary cannot be resolved: {type(exc).__name__}: {exc}"
    if not path or not os.access(path, os.X_OK):
        return None, f"osmem-server's binary {path!r} is missing or not executable"
    return str(path), ""


class Osmem:
    """One ``osmem-server`` process on a free loopback port."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = ""  # what a process that failed to start printed

    # -- life ----------------------------------------------------------------------
    @classmethod
    def start(cls, port: int | None = None, timeout: float = 20.0) -> Osmem:
        """Start a server (or call :func:`tests.services.unavailable`)."""
        binary, why = _binary()
        if binary is None:
            unavailable(why)
            raise AssertionError("unreachable")
        server = cls(binary, port or free_port())
        if not server._spawn(timeout):
            unavailable(
                f"osmem-server did not answer on {server.url} within {timeout}s; "
                f"its output: {server.output or '(none)'}"
            )
        return server

    def _spawn(self, timeout: float) -> bool:
        cmd = [self.binary, "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch", "-no-ja"]
        with tempfile.TemporaryFile() as log:
            self.proc = spawn_until_ready(cmd, self.alive, timeout, log=log)
            if self.proc is None:  # it exited or never answered: say what it printed
                log.seek(0)
                self.output = log.read()[-2000:].decode(errors="replace").strip()
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
            raise RuntimeError(f"osmem-server did not come back on {self.url}: {self.output}")

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
