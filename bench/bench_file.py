"""File collector throughput: N Apache lines from a file → ``log`` json file.

Compared in the same run with rsyslog's imfile → omfile on the same data (rsyslogd in
the foreground with its own config, work dir and pid file under a temp dir; the system
syslog is not touched).  Both write one JSON object per line (time, message, path).

Each peer runs ``BENCH_ROUNDS`` times (default 2), alternating, and the best round of
each is reported: the machine is shared, and alternating gives both the same chances.
Times run from the process start (start-up included) to the last line in the output.

Env: ``BENCH_LINES`` (default 1,000,000).  Prints JSON lines (see bench/run.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import apache_file

LINES = int(os.environ.get("BENCH_LINES", "1000000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


def count_lines(
    path: Path, want: int, timeout: float, proc: subprocess.Popen[bytes]
) -> tuple[float, float]:
    """Wait until ``path`` holds ``want`` lines; return when the first and the last came."""
    first = 0.0
    deadline = time.monotonic() + timeout
    seen = 0
    pos = 0
    while True:
        if path.exists():
            with open(path, "rb") as f:
                f.seek(pos)
                while True:
                    data = f.read(8 << 20)
                    if not data:
                        break
                    seen += data.count(b"\n")
                    if not first and seen:
                        first = time.monotonic()
                    pos += len(data)
        if seen >= want:
            return first, time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) after {seen} lines")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out with {seen}/{want} lines")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM, wait; return the CPU seconds (user + system) the process used."""
    if proc.poll() is not None:
        return 0.0
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return float(usage.ru_utime + usage.ru_stime)
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            return 0.0
        time.sleep(0.02)


RSYSLOG_CONF = """
global(workDirectory="{work}")
module(load="imfile" mode="inotify")
template(name="qjson" type="list") {{
  constant(value="{{\\"@timestamp\\":\\"")
  property(name="timegenerated" dateFormat="rfc3339")
  constant(value="\\",\\"message\\":\\"")
  property(name="msg" format="json")
  constant(value="\\",\\"path\\":\\"")
  property(name="$!metadata!filename" format="json")
  constant(value="\\"}}\\n")
}}
ruleset(name="bench") {{
  action(type="omfile" file="{out}" template="qjson")
}}
input(type="imfile" file="{src}" tag="apache" ruleset="bench" addMetadata="on"
      freshStartTail="off")
"""


def ensure_rsyslog() -> str | None:
    exe = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
    )
    if exe is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "rsyslog"], check=False, capture_output=True
        )
        exe = shutil.which("rsyslogd") or (
            "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
        )
    return exe


def run_rsyslog(tmp: Path, src: Path, n: int) -> tuple[float, float] | None:
    exe = ensure_rsyslog()
    if exe is None:
        return None
    d = Path(tempfile.mkdtemp(prefix="rsyslog-", dir=tmp))
    (d / "work").mkdir(parents=True)
    out = d / "out.json"
    conf = d / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=d / "work", out=out, src=src))
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [exe, "-n", "-f", str(conf), "-i", str(d / "rsyslogd.pid")],
        stdout=subprocess.DEVNULL,
        stderr=open(d / "stderr.txt", "wb"),
    )
    try:
        t_first, t1 = count_lines(out, n, TIMEOUT, proc)
    finally:
        cpu = stop(proc)
    print(
        f"# {d.name}: start-up {t_first - t0:.2f}s, total {t1 - t0:.2f}s, cpu {cpu:.2f}s",
        file=sys.stderr,
    )
    return n / (t1 - t0), cpu


def timed_run(d: Path, conf: Path, out: Path, n: int) -> tuple[float, float, float, float]:
    """``qframe run -c conf`` in ``d`` until ``out`` holds ``n`` lines: (start, first line,
    last line) on the monotonic clock, and the CPU-seconds qframe used."""
    exe = Path(sys.executable).parent / "qframe"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(exe), "run", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=open(d / "stderr.txt", "wb"),
        cwd=d,
    )
    try:
        t_first, t1 = count_lines(out, n, TIMEOUT, proc)
    finally:
        cpu = stop(proc)
    return t0, t_first, t1, cpu


def run_qframe(tmp: Path, src: Path, n: int) -> tuple[float, float]:
    d = Path(tempfile.mkdtemp(prefix="qframe-", dir=tmp))
    out = d / "out.json"
    conf = d / "qframe.yml"
    conf.write_text(
        json.dumps(
            {
                "log": {"level": "warn"},
                "data-dir": str(d / "data"),
                "collector": {
                    "files": {"kind": "file", "path": [str(src)], "start-position": "beginning"}
                },
                "handler": {
                    "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
                },
            }
        )
    )
    t0, t_first, t1, cpu = timed_run(d, conf, out, n)
    print(
        f"# {d.name}: start-up {t_first - t0:.2f}s, total {t1 - t0:.2f}s, cpu {cpu:.2f}s",
        file=sys.stderr,
    )
    return n / (t1 - t0), cpu


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:,.0f}" for v in values)


def main() -> None:
    n = LINES
    tmp = Path(tempfile.mkdtemp(prefix="qframe-bench-file-"))
    try:
        src = apache_file(n)  # shared with the other benches (bench/out/, cached)
        size = src.stat().st_size
        note = f"{n} Apache lines ({size / 1e6:.0f} MB) → one JSON object per line"
        rs_all: list[float] = []
        qf_all: list[float] = []
        rs_cpu: list[float] = []
        qf_cpu: list[float] = []
        for _ in range(ROUNDS):
            r = run_rsyslog(tmp, src, n)
            if r is not None:
                rs_all.append(r[0])
                rs_cpu.append(r[1])
            q = run_qframe(tmp, src, n)
            qf_all.append(q[0])
            qf_cpu.append(q[1])
        rs = max(rs_all) if rs_all else None
        qf = max(qf_all)
        note += f"; best of {ROUNDS} rounds"
        print(
            json.dumps(
                {
                    "bench": "file",
                    "metric": "lines_per_s",
                    "value": round(qf, 1),
                    "unit": "lines/s",
                    "note": f"qframe file → log json; {note}; rounds {_fmt(qf_all)}",
                }
            )
        )
        if rs is not None:
            print(
                json.dumps(
                    {
                        "bench": "file.rsyslog",
                        "metric": "lines_per_s",
                        "value": round(rs, 1),
                        "unit": "lines/s",
                        "note": f"rsyslog imfile → omfile; {note}; rounds {_fmt(rs_all)}",
                    }
                )
            )
            print(
                json.dumps(
                    {
                        "bench": "file.vs_rsyslog",
                        "metric": "ratio",
                        "value": round(qf / rs, 3),
                        "unit": "x",
                        "note": "qframe lines/s ÷ rsyslog lines/s (target ≥ 1.2)",
                    }
                )
            )
        cpu_rows = [("file.cpu", qf_cpu, "qframe")]
        if rs_cpu:
            cpu_rows.append(("file.rsyslog.cpu", rs_cpu, "rsyslog"))
        for bench, cpus, who in cpu_rows:
            best = min(c for c in cpus if c > 0) if any(c > 0 for c in cpus) else 0.0
            if best:
                print(
                    json.dumps(
                        {
                            "bench": bench,
                            "metric": "lines_per_cpu_s",
                            "value": round(n / best, 1),
                            "unit": "lines/cpu-s",
                            "note": f"{who}: lines per CPU second (user+sys, start-up and "
                            f"shutdown included; less sensitive to a busy machine); "
                            f"cpu s per round {'/'.join(f'{c:.2f}' for c in cpus)}",
                        }
                    )
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
