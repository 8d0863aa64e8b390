"""Helpers of the file collector's integration tests: writer, logrotate, qframe run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.services import require_binary

WRITER = Path(__file__).with_name("writer.py")
QFRAME = Path(sys.executable).with_name("qframe")
NUMBER = re.compile(r"^line (\d{8}) ")


def start_writer(
    path: Path, lines: int, burst: int, pause: float, mode: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(lines), str(burst), str(pause), mode]
    )


def logrotate_conf(tmp: Path, target: Path, mode: str) -> Path:
    conf = tmp / f"logrotate-{mode}.conf"
    conf.write_text(f'"{target}" {{\n  rotate 20\n  {mode}\n  missingok\n  nocompress\n}}\n')
    return conf


async def logrotate(tmp: Path, conf: Path) -> None:
    """``logrotate -f -s state conf``, with its own state file (not the system's)."""
    exe = require_binary("logrotate")
    proc = await asyncio.create_subprocess_exec(
        exe,
        "-f",
        "-s",
        str(tmp / "logrotate.state"),
        str(conf),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()


def numbers(texts: list[str]) -> list[int]:
    out = []
    for t in texts:
        m = NUMBER.match(t)
        assert m, f"not a writer line: {t[:80]!r}"
        out.append(int(m.group(1)))
    return out


def on_disk(paths: list[Path]) -> set[int]:
    got: set[int] = set()
    for p in paths:
        for raw in p.read_bytes().splitlines():
            m = NUMBER.match(raw.decode())
            if m:
                got.add(int(m.group(1)))
    return got


class QframeRun:
    """``qframe run -c conf`` as a subprocess (SIGKILL-able), output read from its files."""

    def __init__(
        self,
        tmp: Path,
        config: dict[str, Any],
        env: dict[str, str] | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        self.tmp = tmp
        self.conf = tmp / "qframe.yml"
        self.conf.write_text(json.dumps(config))
        self.env = {**os.environ, **(env or {})}
        self.prefix = prefix or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        err = open(self.tmp / f"qframe-{self.runs}.stderr", "wb")
        self.proc = subprocess.Popen(
            [*self.prefix, str(QFRAME), "run", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=self.tmp,
            env=self.env,
        )
        err.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        p = self.proc
        if p is None or p.poll() is not None:
            return p.returncode if p is not None else 0
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return -9

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        return "".join(
            (self.tmp / f"qframe-{i}.stderr").read_text(errors="replace")
            for i in range(1, self.runs + 1)
        )


def json_lines(path: Path, killed: bool = False) -> list[dict[str, Any]]:
    """The JSON lines of ``path``.  ``killed``: qframe was SIGKILLed while writing it, which
    may cut a line short (the next run ends it first): a line that is no JSON is left out."""
    if not path.exists():
        return []
    out = []
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # a line being written is not complete yet
    for raw in data.splitlines():
        if raw.strip():
            try:
                out.append(json.loads(raw))
            except ValueError:
                if not killed:
                    raise
    return out


def file_collector(log: Path) -> dict[str, Any]:
    return {
        "kind": "file",
        # only the live name: lines left in a file rotated while qframe was down are
        # found through the checkpoint's identity
        "path": str(log),
        "start-position": "beginning",
        "poll-interval": "20ms",
        "scan-interval": "200ms",
    }


def file_to_json(tmp: Path, log: Path, out: Path) -> dict[str, Any]:
    """A daemon's config: :func:`file_collector` on ``log`` → JSON lines into ``out``."""
    return {
        "log": {"level": "info"},
        "tick": "100ms",
        "data-dir": str(tmp / "data"),
        "collector": {"files": file_collector(log)},
        "handler": {
            "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
        },
    }


def delivered(out: Path) -> list[int]:
    """The line numbers in the JSON-lines output ``out`` of daemons that were SIGKILLed."""
    return numbers([d["message"] for d in json_lines(out, killed=True)])
