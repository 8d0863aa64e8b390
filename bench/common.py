"""Shared helpers for the benchmark scripts (data generation, timing, peak RSS, results)."""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
QFRAME = str(Path(sys.executable).with_name("qframe"))

_METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"]
_PATHS = [
    "/",
    "/index.html",
    "/api/v1/items",
    "/static/app.js",
    "/images/logo.png",
    "/login",
    "/search?q=containers",
]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def bench_lines(default: int = 1_000_000) -> int:
    return int(os.environ.get("BENCH_LINES", default))


def apache_lines(n: int, seed: int = 42) -> list[str]:
    """n Apache combined-format lines (deterministic)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ip = f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        ts = f"{(i % 28) + 1:02d}/{_MONTHS[i % 12]}/2026:{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0000"
        req = f"{rnd.choice(_METHODS)} {rnd.choice(_PATHS)} HTTP/1.1"
        status = rnd.choice((200, 200, 200, 304, 404, 500))
        size = rnd.randint(0, 50_000)
        ref = rnd.choice(('"-"', '"https://example.com/"', '"https://example.com/search"'))
        out.append(f'{ip} - - [{ts}] "{req}" {status} {size} {ref} "{rnd.choice(_AGENTS)}"')
    return out


def apache_file(n: int) -> Path:
    """A cached file of n Apache lines under bench/out/."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"apache-{n}.log"
    if not path.exists() or path.stat().st_size == 0:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.write("\n".join(apache_lines(n)) + "\n")
        tmp.rename(path)
    return path


def run_timed(
    cmd: list[str], **kw: object
) -> tuple[float, int, subprocess.CompletedProcess[bytes]]:
    """Run a command; return (wall seconds, peak RSS of children in KiB, result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    res = subprocess.run(cmd, check=False, **kw)  # type: ignore[call-overload]
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(peak, before), res


def run_measured(cmd: list[str], **kw: object) -> tuple[float, float, int, int]:
    """Run a command; return (wall s, CPU s (user+sys), peak RSS KiB, exit code) of that child.

    CPU time is what a loaded machine distorts least: report lines per CPU-second next to
    lines per wall-second.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)  # type: ignore[call-overload]
    _, status, ru = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, proc.returncode


def report(bench: str, metric: str, value: float, unit: str, note: str = "") -> None:
    print(
        json.dumps(
            {"bench": bench, "metric": metric, "value": round(value, 2), "unit": unit, "note": note}
        ),
        flush=True,
    )


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n
