"""Container log files: ``file format: cri → log`` json next to plain ``file → log``.

The same N Apache lines, once as a plain file and once as a CRI log file (each line
``<time> stdout F <line>``, every 50th line split into a ``P`` piece and its ``F`` end,
as containerd and Podman's k8s-file write them).  Rounds alternate; the best of each
is reported, with the ratio (target ≥ 0.8), as lines per wall second and as lines per
CPU-second of the qframe process (start to stop: steadier on a shared machine).

Env: ``BENCH_LINES`` (default 1,000,000), ``BENCH_ROUNDS`` (2).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_file import timed_run
from common import apache_file

LINES = int(os.environ.get("BENCH_LINES", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))


def cri_file(src: Path, dst: Path) -> None:
    with open(src, "rb") as f, open(dst, "wb") as out:
        for i, line in enumerate(f):
            ts = b"2026-12-05T20:%02d:%02d.%09d+00:00 stdout " % (
                i // 60000 % 60,
                i // 1000 % 60,
                i,
            )
            if i % 50 == 0 and len(line) > 20:
                out.write(ts + b"P " + line[:10] + b"\n" + ts + b"F " + line[10:])
            else:
                out.write(ts + b"F " + line)


def run(tmp: Path, src: Path, n: int, fmt: str) -> tuple[float, float]:
    d = Path(tempfile.mkdtemp(prefix=f"qframe-{fmt}-", dir=tmp))
    out = d / "out.json"
    conf = d / "qframe.yml"
    coll = {"kind": "file", "path": [str(src)], "start-position": "beginning", "format": fmt}
    conf.write_text(
        json.dumps(
            {
                "log": {"level": "warn"},
                "data-dir": str(d / "data"),
                "collector": {"files": coll},
                "handler": {
                    "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
                },
            }
        )
    )
    t0, _first, t1, cpu = timed_run(d, conf, out, n)
    shutil.rmtree(d, ignore_errors=True)
    return n / (t1 - t0), cpu


def main() -> None:
    n = LINES
    tmp = Path(tempfile.mkdtemp(prefix="qframe-bench-cri-"))
    try:
        src = apache_file(n)
        cri = tmp / "0.log"
        cri_file(src, cri)
        plain: list[float] = []
        withcri: list[float] = []
        plain_cpu: list[float] = []
        cri_cpu: list[float] = []
        for _ in range(ROUNDS):
            rate, cpu = run(tmp, src, n, "text")
            plain.append(rate)
            plain_cpu.append(n / cpu)
            rate, cpu = run(tmp, cri, n, "cri")
            withcri.append(rate)
            cri_cpu.append(n / cpu)
        rounds = f"rounds plain {'/'.join(f'{v:,.0f}' for v in plain)}, cri " + "/".join(
            f"{v:,.0f}" for v in withcri
        )
        for bench, v, note in (
            ("file.cri", max(withcri), "file format: cri → log json"),
            ("file.plain", max(plain), "file → log json (the same lines, plain)"),
        ):
            row = {"bench": bench, "metric": "lines_per_s", "value": round(v, 1)}
            print(json.dumps({**row, "unit": "lines/s", "note": f"{note}; {n} lines; {rounds}"}))
        for bench, v in (("file.cri", max(cri_cpu)), ("file.plain", max(plain_cpu))):
            row = {"bench": bench, "metric": "lines_per_cpu_s", "value": round(v, 1)}
            print(json.dumps({**row, "unit": "lines/s", "note": "lines per CPU-second"}))
        for metric, ratio, what in (
            ("ratio", max(withcri) / max(plain), "lines/s"),
            ("ratio_cpu", max(cri_cpu) / max(plain_cpu), "lines per CPU-second"),
        ):
            row = {"bench": "file.cri_vs_plain", "metric": metric, "value": round(ratio, 3)}
            note = f"cri {what} ÷ plain {what} (target ≥ 0.8)"
            print(json.dumps({**row, "unit": "x", "note": note}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
