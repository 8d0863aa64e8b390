"""stdin → grok %{COMBINEDAPACHELOG} → log(json file), against a naive Python script.

Both run on one core (taskset) over the same generated Apache combined-format lines
(``BENCH_LINES``, default 1,000,000), best of 3, process start included:

- ``qframe run``: stdin → grok → log (canonical JSON lines into a file);
- the naive script: ``for line in stdin: rx.search(line).groupdict()`` → ``orjson`` →
  file, writing the same record qframe writes (the canonical JSON keys: ``@timestamp``,
  kind, message, level, host, source_path, source_success, fields), with ``rx`` the very
  expression qframe compiles for %{COMBINEDAPACHELOG}
  (named groups renamed to the field names).  A second naive run tries IPv6 before
  IPv4 in ``IP``, as the legacy Logstash library does.
- the simplified-regex script (issue #14's yardstick): what a user writes instead of
  grok — one hand-written expression with ``\\S+``-style fields (``SIMPLE_RX``, which
  checks far less than the Logstash pattern), ``match``, ``groupdict``, ``orjson``, a
  buffered file, writing the same record.

Prints lines/s, MiB/s and lines per CPU-second for each, and qframe's ratio to each
script.  Then, unpinned, ``workers: 1`` against ``workers: 2`` and the simplified-regex
script, with the peak RSS of the whole process tree (``grok_workers.py``).  ``BENCH_GROK_RUNS`` (default 3) sets the number of runs of which the best counts.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QFRAME, apache_file, bench_lines, count_lines, report, run_timed

from qframe.grok import Grok, PatternLibrary

CONFIG = """\
log: {level: error}
data-dir: %(dir)s/data
collector:
  stdin: {}
filter:
  apache: {kind: grok, inputs: [stdin], pattern: "%%{COMBINEDAPACHELOG}"}
handler:
  log: {inputs: [apache], format: json, path: %(dir)s/out.json}
"""

NAIVE = r"""
import socket, sys, re, orjson
from datetime import datetime, timezone
rx = re.compile(open(sys.argv[1]).read(), re.S | re.M)
search = rx.search
host = socket.gethostname()
utc = timezone.utc
out = open(sys.argv[2], "wb", buffering=1 << 20)
for raw in sys.stdin.buffer:
    line = raw.rstrip(b"\n").decode("utf-8", "replace")
    m = search(line)
    rec = {
        "@timestamp": datetime.now(utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": "log",
        "message": line,
        "level": 6,
        "host": host,
        "source_path": ["stdin", "apache", "log"],
        "source_success": m is not None,
    }
    if m is not None:
        rec["fields"] = {k: v for k, v in m.groupdict().items() if v}
    else:
        rec["tags"] = ["_grokparsefailure"]
    out.write(orjson.dumps(rec) + b"\n")
out.close()
"""

SIMPLE = r"""
import socket, sys, re, orjson
from datetime import datetime, timezone
rx = re.compile(open(sys.argv[1]).read())
match = rx.match
host = socket.gethostname()
utc = timezone.utc
out = open(sys.argv[2], "wb", buffering=1 << 20)
for raw in sys.stdin.buffer:
    line = raw.rstrip(b"\n").decode("utf-8", "replace")
    m = match(line)
    rec = {
        "@timestamp": datetime.now(utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "kind": "log",
        "message": line,
        "level": 6,
        "host": host,
        "source_path": ["stdin", "apache", "log"],
        "source_success": m is not None,
    }
    if m is not None:
        rec["fields"] = m.groupdict()
    else:
        rec["tags"] = ["_grokparsefailure"]
    out.write(orjson.dumps(rec) + b"\n")
out.close()
"""

# what a user writes instead of grok: every field a run of "anything but the delimiter"
SIMPLE_RX = (
    r"(?P<clientip>\S+) (?P<ident>\S+) (?P<auth>\S+) \[(?P<timestamp>[^\]]+)\] "
    r'"(?P<verb>\S+) (?P<request>\S+) HTTP/(?P<httpversion>[^"]+)" '
    r'(?P<response>\d+) (?P<bytes>\d+) (?P<referrer>"[^"]*") (?P<agent>"[^"]*")'
)

# The legacy Logstash library tries IPv6 before IPv4 in IP; qframe's tries IPv4 first.
LEGACY_STYLE = {"IP": r"(?:%{IPV6}|%{IPV4})"}


def naive_regex(library: PatternLibrary) -> str:
    g = Grok("%{COMBINEDAPACHELOG}", library)
    names = {c.group: c.name for c in g.captures}
    if len(set(names.values())) != len(names):
        raise SystemExit("naive script needs unique field names")
    return re.sub(r"\(\?P<(g\d+)>", lambda m: f"(?P<{names[m.group(1)]}>", g.regex)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def best_of(cmd: list[str], data: Path, out: Path, n: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user+sys) of ``BENCH_GROK_RUNS`` runs."""
    runs = int(os.environ.get("BENCH_GROK_RUNS", "3"))
    best = best_cpu = float("inf")
    for _ in range(runs):
        out.unlink(missing_ok=True)
        with open(data, "rb") as stdin:
            cpu0 = _cpu()
            dt, _peak, res = run_timed(cmd, stdin=stdin, stderr=subprocess.PIPE)
            best_cpu = min(best_cpu, _cpu() - cpu0)
        if res.returncode != 0:
            raise SystemExit(f"{cmd[2:4]} exited {res.returncode}: {res.stderr.decode()[-500:]}")
        got = count_lines(out)
        if got != n:
            raise SystemExit(f"lost lines: {got} of {n}")
        best = min(best, dt)
    return best, best_cpu


def main() -> None:
    n = bench_lines()
    data = apache_file(n)
    size_mib = data.stat().st_size / 2**20
    py = sys.executable
    with open(data) as f:  # the yardstick must parse every line, or the race is unfair
        head = [next(f).rstrip("\n") for _ in range(min(n, 1000))]
    if not all(re.match(SIMPLE_RX, line) for line in head):
        raise SystemExit("SIMPLE_RX does not match the generated lines")
    pin = ["taskset", "-c", "0"] if os.path.exists("/usr/bin/taskset") else []
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "p.yml"
        cfg.write_text(CONFIG % {"dir": d})
        script = Path(d) / "naive.py"
        script.write_text(NAIVE)
        rx_same = Path(d) / "same.re"
        rx_same.write_text(naive_regex(PatternLibrary()))
        rx_legacy = Path(d) / "legacy.re"
        rx_legacy.write_text(naive_regex(PatternLibrary(LEGACY_STYLE)))
        simple = Path(d) / "simple.py"
        simple.write_text(SIMPLE)
        rx_simple = Path(d) / "simple.re"
        rx_simple.write_text(SIMPLE_RX)
        out = Path(d) / "out.json"
        results = {
            "qframe": best_of([*pin, QFRAME, "run", "-c", str(cfg)], data, out, n),
            "naive-same-regex": best_of(
                [*pin, py, str(script), str(rx_same), str(out)], data, out, n
            ),
            "naive-legacy-style": best_of(
                [*pin, py, str(script), str(rx_legacy), str(out)], data, out, n
            ),
            "simplified-regex": best_of(
                [*pin, py, str(simple), str(rx_simple), str(out)], data, out, n
            ),
        }
    note = f"{n} Apache combined lines, one core (taskset), best of 3, process start included"
    for name, (dt, cpu) in results.items():
        what = {
            "qframe": "qframe stdin→grok→log json file",
            "naive-same-regex": "naive script, qframe's expression",
            "naive-legacy-style": "naive script, legacy-style expansion",
            "simplified-regex": "simplified-regex script (\\S+ fields, match, groupdict)",
        }[name]
        report(f"grok {name}", "lines_per_s", n / dt, "lines/s", f"{what}; {note}")
        report(f"grok {name}", "mib_per_s", size_mib / dt, "MiB/s", f"{what}; {note}")
        report(
            f"grok {name}",
            "lines_per_cpu_s",
            n / cpu,
            "lines/s",
            f"{what}; lines per CPU second (user+sys): robust on a busy machine",
        )
    q_wall, q_cpu = results["qframe"]
    for name in ("naive-same-regex", "naive-legacy-style", "simplified-regex"):
        wall, cpu = results[name]
        report(
            f"grok qframe vs {name}",
            "ratio",
            wall / q_wall,
            "x",
            f"qframe lines/s divided by the {name} script's (>1: qframe faster); "
            f"per CPU second: {cpu / q_cpu:.2f}",
        )
    workers_part(data, n)


def workers_part(data: Path, n: int) -> None:
    """workers: 1 vs 2 vs the simplified-regex script, unpinned (grok_workers.py)."""
    import grok_workers

    with tempfile.TemporaryDirectory() as d:
        simple, rx = Path(d) / "simple.py", Path(d) / "simple.re"
        simple.write_text(SIMPLE)
        rx.write_text(SIMPLE_RX)
        cmd = [sys.executable, str(simple), str(rx), str(Path(d) / "out.json")]
        grok_workers.run(Path(d), data, n, cmd)


if __name__ == "__main__":
    main()
