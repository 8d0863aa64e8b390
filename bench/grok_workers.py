"""bench_grok's second part (issue #14): ``workers: 1`` against ``workers: 2``, unpinned.

``stdin → grok %{COMBINEDAPACHELOG} → log`` json file over the same 1,000,000 Apache lines
with the filter's ``workers: 1`` (in the main process) and ``workers: 2`` (two worker
processes), on every core qframe may use, against the simplified-regex script
(bench_grok's ``SIMPLE``). For each: lines per wall second, lines per CPU-second of the
whole process tree (user+sys of qframe and its workers: robust on a busy machine), the main
process's own CPU-seconds, and the peak RSS of the whole tree (sampled every 20 ms from
/proc: the sum over qframe and its workers). ``BENCH_WORKERS_RUNS`` (default 1) runs each
that many times and keeps the best.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path

from common import QFRAME, count_lines, report

CONFIG = """\
log: {level: error}
data-dir: %(dir)s/data
collector:
  stdin: {}
filter:
  apache: {kind: grok, inputs: [stdin], pattern: "%%{COMBINEDAPACHELOG}", workers: %(w)s}
handler:
  log: {inputs: [apache], format: json, path: %(dir)s/out.json}
"""

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds, RSS bytes) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(b")") + 2 :].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / _TICK, int(rest[21]) * _PAGE


def _tree(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None:
                kids.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def run_tree(cmd: list[str], data: Path) -> tuple[float, float, float, int, int]:
    """(wall s, CPU s of the tree, CPU s of the main process, peak tree RSS, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(data, "rb") as stdin:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stderr=subprocess.PIPE)
    peak = 0
    main_cpu = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, main_cpu
        while not done.wait(0.02):
            total = 0
            for pid in _tree(proc.pid):
                st = _stat(pid)
                if st is not None:
                    total += st[2]
                    if pid == proc.pid:
                        main_cpu = st[1]
            peak = max(peak, total)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    dt = time.perf_counter() - t0
    done.set()
    t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[1:4]} exited {proc.returncode}: {err.decode()[-500:]}")
    return dt, cpu, main_cpu, peak, proc.returncode


def run(d: Path, data: Path, n: int, simple_cmd: list[str]) -> None:
    runs = int(os.environ.get("BENCH_WORKERS_RUNS", "1"))
    out = d / "out.json"
    results: dict[str, tuple[float, float, float, int]] = {}
    cmds: dict[str, list[str]] = {}
    for w in (1, 2):
        cfg = d / f"w{w}.yml"
        cfg.write_text(CONFIG % {"dir": d, "w": w})
        cmds[f"qframe workers:{w}"] = [QFRAME, "run", "-c", str(cfg)]
    cmds["simplified-regex script"] = simple_cmd
    for name, cmd in cmds.items():
        best: tuple[float, float, float, int] | None = None
        for _ in range(runs):
            out.unlink(missing_ok=True)
            dt, cpu, main_cpu, peak, _rc = run_tree(cmd, data)
            got = count_lines(out)
            if got != n:
                raise SystemExit(f"{name}: lost lines: {got} of {n}")
            if best is None or dt < best[0]:
                best = (dt, cpu, main_cpu, peak)
        assert best is not None
        results[name] = best
    cores = len(os.sched_getaffinity(0))
    note = f"{n} Apache lines, unpinned ({cores} cores), best of {runs}, process start included"
    for name, (dt, cpu, main_cpu, peak) in results.items():
        report(f"grok {name}", "lines_per_s", n / dt, "lines/s", note)
        report(
            f"grok {name}",
            "lines_per_cpu_s",
            n / cpu,
            "lines/s",
            "lines per CPU-second of the whole process tree (user+sys)",
        )
        report(
            f"grok {name}",
            "main_cpu_us_per_line",
            main_cpu / n * 1e6,
            "µs",
            "CPU of the main process alone per line (the workers' share excluded)",
        )
        report(f"grok {name}", "peak_tree_rss", peak / 2**20, "MiB", "sum over the tree")
    w1, w2, simple = (results[k] for k in cmds)
    report(
        "grok qframe workers:2 vs workers:1",
        "ratio",
        w1[0] / w2[0],
        "x",
        f"wall-clock speed-up (target ≥ 1.5); CPU-seconds per line: {w2[1] / w1[1]:.2f}× workers:1",
    )
    for name, r in (("workers:2", w2), ("workers:1", w1)):
        report(
            f"grok qframe {name} vs simplified-regex script",
            "ratio",
            simple[0] / r[0],
            "x",
            f"qframe lines/s divided by the script's (target for workers:2 ≥ 1.0); "
            f"per CPU-second: {simple[1] / r[1]:.2f}",
        )
