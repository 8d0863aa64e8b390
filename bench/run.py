"""Runs every bench/bench_*.py (or those named on the command line) and prints a table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    rows: list[dict[str, object]] = []
    failed = []
    for s in scripts:
        print(f"== {s.name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(s)],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        for line in proc.stdout.splitlines():
            print(line, flush=True)
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        if proc.returncode != 0:
            failed.append(s.name)
    print("\n| bench | metric | value | unit |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['bench']} | {r['metric']} | {r['value']:,} | {r['unit']} |")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
