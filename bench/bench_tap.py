"""The cost of a tap: `qframe run` (stdin → id → log json file) with the ops server,
untapped vs a `qframe tap` client on `id` (its default rate, 1,000 messages/s) vs a tap of
every message (--rate 0).  Lines per CPU-second of the daemon alone, from the first line
on (start-up and the wait for the tap are left out; the tap client's CPU is not counted: it
is another process, usually on another machine)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QFRAME, apache_file, bench_lines, count_lines, report

CONFIG = """\
log: {level: warn}
http: 127.0.0.1:%(port)d
http-tap: true
data-dir: %(dir)s/data
collector:
  stdin: {}
filter:
  id: {inputs: [stdin]}
handler:
  log: {inputs: [id], format: json, path: %(dir)s/out.json}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graph(port: int) -> dict[str, dict[str, object]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/graph", timeout=2) as r:
            return {i["name"]: i for i in json.loads(r.read())["instances"]}
    except OSError:
        return None


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(d: Path, data: Path, tap_rate: str | None) -> tuple[float, float, int]:
    """(wall s, CPU s of the daemon, lines the tap client printed)."""
    port = free_port()
    cfg = d / "p.yml"
    cfg.write_text(CONFIG % {"dir": d, "port": port})
    out = d / "out.json"
    out.unlink(missing_ok=True)
    proc = subprocess.Popen(
        ["taskset", "-c", "0", QFRAME, "run", "-c", str(cfg)], stdin=subprocess.PIPE
    )
    while graph(port) is None:
        time.sleep(0.05)
    tap = None
    tap_out = d / "tap.json"
    if tap_rate is not None:
        with open(tap_out, "w") as f:
            tap = subprocess.Popen(
                [QFRAME, "tap", "--http", f"127.0.0.1:{port}", "--rate", tap_rate, "id"],
                stdout=f,
                stderr=subprocess.DEVNULL,
            )
        while (g := graph(port)) is None or not g["id"]["tapped"]:
            time.sleep(0.05)
    cpu0 = proc_cpu(proc.pid)  # start-up and the waits above are not the lines' cost
    t0 = time.perf_counter()
    assert proc.stdin is not None
    with open(data, "rb") as f:
        shutil.copyfileobj(f, proc.stdin, 1 << 20)
    proc.stdin.close()
    _, status, ru = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("qframe failed")
    shown = 0
    if tap is not None:
        tap.wait(60)
        shown = count_lines(tap_out)
    return dt, ru.ru_utime + ru.ru_stime - cpu0, shown


def main() -> None:
    n = bench_lines()
    data = apache_file(n)
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(3):  # interleaved, best of 3 each: the machine's load hits all alike
            for name, rate in (("untapped", None), ("tap 1000/s", "1000"), ("tap all", "0")):
                dt, cpu, shown = run_once(Path(d), data, rate)
                got = count_lines(Path(d) / "out.json")
                if got != n:
                    raise SystemExit(f"lost lines: {got} of {n}")
                if name not in results or cpu < results[name][1]:
                    results[name] = (dt, cpu, shown)
    base = n / results["untapped"][1]
    for name, (_dt, cpu, shown) in results.items():
        note = f"{n} lines, stdin → id → log, one core, best of 3; tap client printed {shown}"
        report(f"tap {name}", "lines_per_cpu_s", n / cpu, "lines/CPU-s", note)
        if name != "untapped":
            report(f"tap {name}", "vs_untapped", 100 * (n / cpu) / base, "%", note)


if __name__ == "__main__":
    main()
