"""stdin → id → log(json to a file): lines/s, MiB/s and peak RSS of `qframe run`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QFRAME, apache_file, bench_lines, count_lines, report, run_measured

CONFIG = """\
log: {level: warn}
data-dir: %(dir)s/data
collector:
  stdin: {}
filter:
  id: {inputs: [stdin]}
handler:
  log: {inputs: [id], format: json, path: %(dir)s/out.json}
"""


def main() -> None:
    n = bench_lines()
    data = apache_file(n)
    size_mib = data.stat().st_size / 2**20
    best = None
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "p.yml"
        cfg.write_text(CONFIG % {"dir": d})
        for _ in range(3):
            out = Path(d) / "out.json"
            out.unlink(missing_ok=True)
            with open(data, "rb") as stdin:
                dt, cpu, peak_kib, rc = run_measured(
                    ["taskset", "-c", "0", QFRAME, "run", "-c", str(cfg)], stdin=stdin
                )
            if rc != 0:
                raise SystemExit(f"qframe exited {rc}")
            got = count_lines(out)
            if got != n:
                raise SystemExit(f"lost lines: {got} of {n}")
            if best is None or dt < best[0]:
                best = (dt, cpu, peak_kib)
    assert best is not None
    dt, cpu, peak_kib = best
    note = f"{n} Apache lines, stdin → id → log json file, one core (taskset), best of 3, process start included"
    report("core stdin→id→log", "lines_per_s", n / dt, "lines/s", note)
    report("core stdin→id→log", "lines_per_cpu_s", n / cpu, "lines/CPU-s", note)
    report("core stdin→id→log", "mib_per_s", size_mib / dt, "MiB/s", note)
    report("core stdin→id→log", "peak_rss", peak_kib / 1024, "MiB", note)


if __name__ == "__main__":
    main()
