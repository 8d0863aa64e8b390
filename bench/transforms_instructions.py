"""Instructions a line of the parser pipelines of ``bench_transforms``, which no load changes.

CPU time a line grows with the machine's load (the same code on the same lines costs ~1.8×
more CPU at load 12–15 than at load 4), so ratios of pipelines measured at different
times mislead.  This counts the instructions of ``qframe run`` under callgrind (valgrind)
for ``BENCH_SMALL`` (default 50,000) and ``BENCH_LARGE`` (default 200,000) lines and
reports the difference a line: the process's start excluded.  Slow (callgrind runs ~50×
slower), so it is not part of ``make bench``: ``python bench/transforms_instructions.py
[pipeline ...]`` (names as in ``bench_transforms.PIPELINES``; default: no filter, the
floor, dissect on the floor's lines, grok).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transforms import PIPELINES, PRESET, data_file, pipeline_command
from common import apache_lines, report

DEFAULT = ["(no filter)", "floor (fields preset)", "dissect (the floor's lines)", "grok"]
_COLLECTED = re.compile(rb"Collected : (\d+)")


def instructions(name: str, data: Path) -> int:
    """Instructions of one ``qframe run`` of pipeline ``name`` over ``data`` (its start
    included)."""
    filters, last, cmd = pipeline_command(name, data)
    grind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "p.yml"
        cfg.write_text(
            f"log: {{level: error}}\ndata-dir: {d}/data\ncollector:\n  stdin: {{}}\n"
            + (f"filter:\n{filters}" if filters else "")
            + f"handler:\n  log: {{inputs: [{last}], format: json, path: {d}/out.json, "
            "source-success: any}\n"
        )
        with open(data, "rb") as stdin:
            res = subprocess.run(
                [*grind, *cmd, "run", "-c", str(cfg)],
                stdin=stdin,
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                check=False,
            )
    found = _COLLECTED.search(res.stderr)
    if res.returncode != 0 or found is None:
        raise SystemExit(f"{name}: exit {res.returncode}: {res.stderr.decode()[-400:]}")
    return int(found.group(1))


def main(argv: list[str]) -> None:
    small = int(os.environ.get("BENCH_SMALL", 50_000))
    large = int(os.environ.get("BENCH_LARGE", 200_000))
    apache = apache_lines(PRESET)
    files = {
        n: data_file("apache-cycled", [apache[i % PRESET] for i in range(n)])
        for n in (small, large)
    }
    for name in argv or DEFAULT:
        if PIPELINES[name][0] not in ("apache", "apache-cycled"):
            raise SystemExit(f"{name}: only the Apache pipelines are counted here")
        per_line = (instructions(name, files[large]) - instructions(name, files[small])) / (
            large - small
        )
        report(
            f"transforms stdin→{name}→log",
            "instructions_per_line",
            per_line,
            "instr",
            f"callgrind, {large} lines minus {small} (start excluded), the floor's lines",
        )


if __name__ == "__main__":
    main(sys.argv[1:])
