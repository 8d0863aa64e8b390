"""A real `qframe run` with the ops server, for the operators' tools' tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.services import free_port

QFRAME = str(Path(sys.executable).with_name("qframe"))
TOKEN = "t0ken-for-tests"


class Daemon:
    """``qframe run`` of stdin → id → log (a file), ops server on a free port."""

    def __init__(self, tmp: Path, tap: bool = True, token: str | None = TOKEN) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.out = tmp / "out.json"
        cfg = tmp / "p.yml"
        extra = ("http-tap: true\n" if tap else "") + (f"http-token: {token}\n" if token else "")
        cfg.write_text(
            f"log: {{level: warn}}\nhttp: {self.address}\n{extra}data-dir: {tmp}/data\n"
            "collector: {stdin: {}}\n"
            "filter:\n  id: {inputs: [stdin]}\n"
            "  apache: {kind: grok, inputs: [id], pattern: '%{COMMONAPACHELOG}'}\n"
            f"handler:\n  log: {{inputs: [apache], format: json, path: {self.out}}}\n"
            f"  unparsed: {{kind: log, inputs: [apache], source-success: false, format: json, path: {tmp}/bad.json}}\n"
        )
        self.proc = subprocess.Popen(
            [QFRAME, "run", "-c", str(cfg)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while self.get("/health")[0] != 200:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the daemon's ops server did not answer"
            time.sleep(0.05)

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(f"http://{self.address}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                body = r.read()
                status = r.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        except OSError:
            return 0, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode()

    def graph(self) -> dict[str, Any]:
        status, body = self.get("/graph", TOKEN)
        assert status == 200, body
        return {i["name"]: i for i in body["instances"]}

    def wait_tapped(self, name: str, n: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.graph()[name]["tapped"] < n:
            assert time.monotonic() < deadline, f"no tap on {name}"
            time.sleep(0.05)

    def feed(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def qframe(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [QFRAME, *args], capture_output=True, text=True, timeout=timeout, check=False, **kw
    )
