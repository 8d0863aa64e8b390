"""A real InfluxDB 1.x (``influxd`` from Debian's ``influxdb`` package) for tests.

::

    from tests.services.influxdb import Influxd

    server = Influxd.start()          # own config and dirs under a temp dir, free ports
    try:
        server.url                     # "http://127.0.0.1:PORT"
        server.create_database("qf")
        server.query("SELECT * FROM cpu", db="qf")   # list of series dicts (name, tags, columns, values)
        server.points("SELECT * FROM cpu", db="qf")  # flat list of {column: value, **tags}
        server.stop(); server.start_again()          # down for a while; data kept on disk
    finally:
        server.close()                               # stop and remove the temp dir
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from . import free_port, http_answers, require_binary, spawn_until_ready, terminate, unavailable

__all__ = ["Influxd"]

_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""


class Influxd:
    """One influxd process with its own config and data under a temp dir."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "influxdb.conf"
        self.config.write_text(_CONFIG.format(dir=root, port=self.port, rpc_port=self.rpc_port))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = open(root / "influxd.log", "ab")

    @classmethod
    def start(cls, timeout: float = 30.0) -> Influxd:
        """Start a server (or call :func:`tests.services.unavailable`)."""
        binary = require_binary("influxd")
        server = cls(binary, Path(tempfile.mkdtemp(prefix="qframe-influxd-")))
        if not server._spawn(timeout):
            log = (server.root / "influxd.log").read_text(errors="replace")[-500:]
            server.close()
            unavailable(f"influxd did not answer /ping within {timeout}s: {log}")
        return server

    def _spawn(self, timeout: float) -> bool:
        cmd = [self.binary, "-config", str(self.config)]
        self.proc = spawn_until_ready(cmd, self.alive, timeout, self._log)
        return self.proc is not None

    def alive(self) -> bool:
        return http_answers(self.url + "/ping", 204)

    def stop(self) -> None:
        """Stop the process (the data stays on disk for :meth:`start_again`)."""
        p, self.proc = self.proc, None
        terminate(p, 10.0)

    def start_again(self, timeout: float = 30.0) -> None:
        """Start the stopped server on the same port with the same data."""
        if self.proc is not None:
            return
        if not self._spawn(timeout):
            raise RuntimeError(f"influxd did not come back on {self.url}")

    def close(self) -> None:
        """Stop and remove every file."""
        self.stop()
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- requests ------------------------------------------------------------------
    def query(self, q: str, db: str = "", epoch: str = "s") -> list[dict[str, Any]]:
        """Run InfluxQL; the series of the first statement (``[]`` when none)."""
        params = {"q": q, "epoch": epoch}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(self.url + "/query", data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                res = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"influx query {q!r}: {e.code} {e.read()!r}") from None
        result = res["results"][0]
        if "error" in result:
            raise RuntimeError(f"influx query {q!r}: {result['error']}")
        return list(result.get("series", []))

    def points(self, q: str, db: str) -> list[dict[str, Any]]:
        """Flatten a query's series into one dict per point (columns plus the series tags)."""
        out: list[dict[str, Any]] = []
        for s in self.query(q, db):
            tags = s.get("tags", {})
            for row in s["values"]:
                p = dict(zip(s["columns"], row, strict=True))
                p.update(tags)
                p["_measurement"] = s["name"]
                out.append(p)
        return out

    def create_database(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def write(self, db: str, lines: str, precision: str = "s") -> None:
        """Write line protocol directly (to set up a test's conflicting field types)."""
        url = f"{self.url}/write?db={urllib.parse.quote(db)}&precision={precision}"
        req = urllib.request.Request(url, data=lines.encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status != 204:
                raise RuntimeError(f"influx write: {r.status}")
