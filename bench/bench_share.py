"""Collectors sharing the work (``workers: N``, issue #14): tcp over 8 connections and file
over 8 files, ``workers: 1`` (in the main process) against ``workers: 2``.

Each run: ``qframe run`` (collector → ``log`` handler, format json, to a file) until every
line is written; qframe is started and ready (/health) before the data comes. Reported per
run: lines per wall-second (from the first byte sent / the files' appearance to the last
line written), lines per CPU-second of the whole process tree (main process and workers:
user + system, start-up excluded), the main process's share of that
CPU, and the peak RSS of the tree (the sum of the processes' RSS, sampled every 20 ms).
The scaling ratio is ``workers: 2`` over ``workers: 1`` in lines per wall-second; on a
machine shared with other work the per-CPU-second figures are the ones to compare (the
load average is printed with each run). ``BENCH_LINES`` (default 800,000) lines in all.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import QFRAME, apache_lines, bench_lines, report

SOURCES = 8
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    out.extend(tree(int(c)))
    except OSError:
        pass
    return out


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, ValueError, IndexError):
        return 0.0


class Sampler(threading.Thread):
    """The peak of the tree's summed RSS, and each process's last CPU reading."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            pids = tree(self.pid)
            self.peak = max(self.peak, sum(map(rss, pids)))
            for p in pids:
                c = cpu(p)
                if c:
                    self.cpu[p] = c
            self.halt.wait(0.02)


def count(path: Path, pos: int, seen: int) -> tuple[int, int]:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            while chunk := f.read(1 << 22):
                seen += chunk.count(b"\n")
                pos += len(chunk)
    except FileNotFoundError:
        pass
    return pos, seen


def ready(http: int, timeout: float = 120.0) -> None:
    """Until /health shows every plugin ok (and every worker alive): start-up is over."""
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=5) as r:
                h = json.loads(r.read())
            if all(
                p["state"] == "ok" and all(w["alive"] for w in p.get("workers") or [])
                for p in h["plugins"]
            ):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("qframe did not become ready")
        time.sleep(0.05)


def run(work: Path, collector: dict[str, object], n: int, send: Any) -> dict[str, float]:
    out = work / "out.json"
    conf = work / "qframe.yml"
    http = free_port()
    import json

    conf.write_text(
        json.dumps(
            {
                "log": {"level": "warn"},
                "http": f"127.0.0.1:{http}",
                "data-dir": str(work / "data"),
                "collector": {"src": collector},
                "handler": {
                    "out": {"kind": "log", "inputs": ["src"], "format": "json", "path": str(out)}
                },
            }
        )
    )
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "stderr.txt", "wb"),
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        ready(http)
        time.sleep(0.2)  # a sample of every process after its start-up
        cpu0 = dict(sampler.cpu)
        load0 = os.getloadavg()[0]
        t0 = send()
        pos = seen = 0
        deadline = time.monotonic() + TIMEOUT
        while seen < n:
            pos, seen = count(out, pos, seen)
            if proc.poll() is not None:
                raise RuntimeError(f"qframe exited ({proc.returncode}) after {seen} lines")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out with {seen}/{n} lines")
            time.sleep(0.02)
        t1 = time.perf_counter()
        time.sleep(0.1)  # one more sample of every process
        main_cpu = sampler.cpu.get(proc.pid, 0.0) - cpu0.get(proc.pid, 0.0)
        total_cpu = sum(v - cpu0.get(p, 0.0) for p, v in sampler.cpu.items())
    finally:
        sampler.halt.set()
        sampler.join()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {
        "rate": n / (t1 - t0),
        "per_cpu": n / total_cpu if total_cpu else 0.0,
        "cpu": total_cpu,
        "main_cpu": main_cpu,
        "rss": sampler.peak / (1 << 20),
        "load": (load0 + os.getloadavg()[0]) / 2,
    }


def file_writer(src: Path, chunks: list[bytes]) -> Any:
    """The files appear (renamed into the watched directory) once qframe is ready."""
    stage = src.parent / (src.name + ".stage")
    stage.mkdir(exist_ok=True)
    for s, data in enumerate(chunks):
        (stage / f"f{s}.log").write_bytes(data)

    def send() -> float:
        t0 = time.perf_counter()
        for s in range(len(chunks)):
            os.rename(stage / f"f{s}.log", src / f"f{s}.log")
        return t0

    return send


def tcp_sender(port: int, chunks: list[bytes]) -> Any:
    def send() -> float:
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in chunks]
        t0 = time.perf_counter()

        def one(s: socket.socket, data: bytes) -> None:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(TIMEOUT)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()

        for s, data in zip(socks, chunks, strict=True):
            threading.Thread(target=one, args=(s, data), daemon=True).start()
        return t0

    return send


def show(what: str, workers: int, r: dict[str, float]) -> None:
    print(
        f"# {what} workers {workers}: {r['rate']:,.0f} lines/s, {r['per_cpu']:,.0f} lines/CPU-s "
        f"(tree {r['cpu']:.2f} CPU-s, main process {r['main_cpu']:.2f}), peak RSS of the tree "
        f"{r['rss']:.0f} MiB, load {r['load']:.1f}",
        file=sys.stderr,
    )


def main() -> int:
    n = bench_lines(800_000) // SOURCES * SOURCES
    per = n // SOURCES
    base = apache_lines(min(per, 100_000))
    texts = [(base * (per // len(base) + 1))[:per] for _ in range(SOURCES)]
    chunks = ["".join(f"s{s} {t}\n" for t in texts[s]).encode() for s in range(SOURCES)]
    tmp = Path(tempfile.mkdtemp(prefix="qframe-share-"))
    results: dict[tuple[str, int], dict[str, float]] = {}
    try:
        for workers in (1, 2):
            work = Path(tempfile.mkdtemp(dir=tmp))
            port = free_port()
            r = run(
                work,
                {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": port, "workers": workers},
                n,
                tcp_sender(port, chunks),
            )
            results[("tcp", workers)] = r
            show(f"tcp over {SOURCES} connections", workers, r)
            shutil.rmtree(work, ignore_errors=True)
            work = Path(tempfile.mkdtemp(dir=tmp))
            src = work / "files"
            src.mkdir()
            r = run(
                work,
                {
                    "kind": "file",
                    "path": str(src / "*.log"),
                    "start-position": "beginning",
                    "workers": workers,
                },
                n,
                file_writer(src, chunks),
            )
            results[("file", workers)] = r
            show(f"file over {SOURCES} files", workers, r)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for what in ("tcp", "file"):
        for workers in (1, 2):
            r = results[(what, workers)]
            report(f"share_{what}", f"workers {workers} lines/s", r["rate"], "lines/s")
            report(f"share_{what}", f"workers {workers} lines/CPU-s", r["per_cpu"], "lines/CPU-s")
            report(f"share_{what}", f"workers {workers} peak RSS (tree)", r["rss"], "MiB")
        one, two = results[(what, 1)], results[(what, 2)]
        report(
            f"share_{what}",
            "scaling workers 2 / 1 (wall)",
            two["rate"] / one["rate"],
            "x",
            f"load {one['load']:.1f} / {two['load']:.1f}",
        )
        report(
            f"share_{what}",
            "CPU per line workers 2 / 1",
            one["per_cpu"] / two["per_cpu"],
            "x",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
