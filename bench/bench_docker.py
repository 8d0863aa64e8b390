"""The Docker collectors at rest: qframe's CPU and peak RSS with 50 idle containers.

Starts an isolated Podman Docker-API service (tests/services/podman.py), runs
``BENCH_CONTAINERS`` (default 50, the issue's figure) idle busybox containers, then
``qframe run`` (a separate process) with docker-events, docker-logs and docker-stats
(both fed by docker-events) → the docker-stats filter → a ``log`` handler writing JSON to
/dev/null.  Once every container has its stats and its log stream open, it measures
qframe's CPU time over ``BENCH_SECONDS`` (default 30) from /proc and its peak RSS
(VmHWM).  Targets: < 5 % of one core, < 100 MB.  Podman sends a stats sample every 5 s
per container (Docker: every second), so the work here is ~10 samples/s → ~60 points/s.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import QFRAME, report

BENCH = "docker"
CONFIG = """\
log: {{level: warning}}
tick: 5s
http: 127.0.0.1:{port}
data-dir: {data}
collector:
  docker-events: {{docker-host: "{host}"}}
  docker-logs: {{docker-host: "{host}", inputs: [docker-events]{multiline}}}
  docker-stats: {{docker-host: "{host}", inputs: [docker-events]}}
filter:
  metrics: {{kind: docker-stats, inputs: [collector.docker-stats]}}
handler:
  out: {{kind: log, format: json, path: /dev/null, inputs: [docker-events, docker-logs, metrics]}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def streams(port: int, metric: str = "qframe_streams") -> dict[str, float]:
    """A metric of each plugin (default the ``streams`` gauge), from /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(metric + r'\{[^}]*plugin="([^"]+)"[^}]*\}\s+(\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def opened(port: int, proc: subprocess.Popen[bytes], n: int, stats: bool = False) -> bool:
    """Wait until qframe has every container's log stream (and stats stream) open."""
    t = time.monotonic()
    while True:
        s = streams(port)
        if s.get("docker-logs") == n and (not stats or s.get("docker-stats") == n):
            return True
        if proc.poll() is not None or time.monotonic() - t > 120:
            print(f"bench_docker: streams never opened: {s}", file=sys.stderr)
            return False
        time.sleep(0.2)


def burst(
    svc: Any, port: int, proc: subprocess.Popen[bytes], lines: int, preset: str, name: str
) -> bool:
    """One container (``name``) writes ``lines`` lines; report how fast they came through."""
    r0 = streams(port, "qframe_received_total").get("docker-logs", 0)
    c0, t0 = cpu_ticks(proc.pid), time.monotonic()
    svc.run(name, "seq", "1", str(lines))
    # with multiline the last line waits for its timeout: not counted
    want = r0 + lines - (1 if preset else 0)
    while streams(port, "qframe_received_total").get("docker-logs", 0) < want:
        if proc.poll() is not None or time.monotonic() - t0 > 300:
            got = streams(port, "qframe_received_total").get("docker-logs", 0) - r0
            print(f"bench_docker: {got} of {lines} burst lines arrived", file=sys.stderr)
            return False
        time.sleep(0.05)
    burst_s = time.monotonic() - t0
    burst_cpu = (cpu_ticks(proc.pid) - c0) / os.sysconf("SC_CLK_TCK")
    report(
        BENCH,
        f"log_lines_per_s{'_' + preset if preset else ''}",
        lines / burst_s,
        "lines/s",
        f"{lines} lines of one container (seq), podman run → docker-logs"
        f"{f' (multiline: {preset})' if preset else ''} → log json /dev/null; "
        f"qframe CPU {burst_cpu / burst_s * 100:.0f}% of a core meanwhile",
    )
    return True


def main() -> int:
    n = int(os.environ.get("BENCH_CONTAINERS", "50"))
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
    try:
        from tests.services.podman import PodmanService

        svc = PodmanService.launch()
    except BaseException as exc:  # unavailable() skips (a pytest outcome) or fails
        print(f"bench_docker: podman Docker API unavailable: {exc}", file=sys.stderr)
        return 1
    proc: subprocess.Popen[bytes] | None = None
    try:
        t = time.monotonic()
        for i in range(n):
            svc.run(f"idle-{i}")
        start_s = time.monotonic() - t
        port = free_port()
        data = tempfile.mkdtemp(prefix="qframe-bench-docker-")
        cfg = Path(data) / "qframe.yml"
        # BENCH_MULTILINE=java: docker-logs joins lines with that preset (burst bench)
        preset = os.environ.get("BENCH_MULTILINE", "")
        ml = f", multiline: {preset}" if preset else ""
        cfg.write_text(CONFIG.format(port=port, data=data, host=svc.docker_host, multiline=ml))
        log = open(Path(data) / "qframe.log", "wb")
        t = time.monotonic()
        proc = subprocess.Popen([QFRAME, "run", "-c", str(cfg)], stderr=log, stdout=log)
        if not opened(port, proc, n, stats=True):
            return 1
        ready_s = time.monotonic() - t
        time.sleep(5)  # let the start-up settle (imports, first samples)
        e0 = streams(port, "qframe_emitted_total").get("metrics", 0)
        c0, w0 = cpu_ticks(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, w1 = cpu_ticks(proc.pid), time.monotonic()
        e1 = streams(port, "qframe_emitted_total").get("metrics", 0)
        cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK") / (w1 - w0) * 100
        rss = peak_rss_mb(proc.pid)
        note = f"{n} idle containers, {n} stats + {n} log streams, Podman 4.3, {seconds:.0f}s"
        report(BENCH, "cpu_percent", cpu, "% of one core", note + "; target < 5")
        report(BENCH, "peak_rss_mb", rss, "MB", note + "; target < 100")
        report(BENCH, "points_per_s", (e1 - e0) / (w1 - w0), "points/s", "docker-stats filter out")
        # a burst: one container writes BENCH_LINES lines; how fast do they come through?
        lines = int(os.environ.get("BENCH_LINES", "200000"))
        if not burst(svc, port, proc, lines, preset, "burst"):
            return 1
        report(BENCH, "peak_rss_after_burst_mb", peak_rss_mb(proc.pid), "MB", "VmHWM")
        report(BENCH, "streams_open_s", ready_s, "s", f"qframe start → {2 * n} streams open")
        report(BENCH, "containers_start_s", start_s, "s", f"podman run of {n} containers")
        # the same burst through docker-logs with a multiline preset (the issue's "java
        # preset on the burst bench"): a second qframe with ``multiline: java``
        # (BENCH_MULTILINE_BURST, default java; empty: skipped)
        second = os.environ.get("BENCH_MULTILINE_BURST", "java")
        if second and not preset:
            stop(proc)
            proc = None
            svc.rm("burst")  # its lines are not read again
            cfg.write_text(
                CONFIG.format(
                    port=port, data=data, host=svc.docker_host, multiline=f", multiline: {second}"
                )
            )
            proc = subprocess.Popen([QFRAME, "run", "-c", str(cfg)], stderr=log, stdout=log)
            if not opened(port, proc, n):
                return 1
            if not burst(svc, port, proc, lines, second, "burst-ml"):
                return 1
        return 0
    finally:
        if proc is not None:
            stop(proc)
        svc.close()


if __name__ == "__main__":
    sys.exit(main())
