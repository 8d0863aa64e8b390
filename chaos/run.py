"""The chaos runner: ``python -m chaos [--quick] [--list] [--json FILE] [SCENARIO…]``."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

from chaos.common import ROOT, Context, Result, Skip

#: run order: the defects of issue #21 first (a–g), then what already held
SCENARIOS = [
    "tcp_partial",
    "gelf_partial",
    "reload_tcp",
    "rotate_down",
    "negative_offset",
    "config_hazards",
    "health_enospc",
    "file_kill",
    "es_outage",
    "gelf_bomb",
    "idle_conns",
    "docker_restart",
]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"chaos.scenarios.{name}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    p.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"run only these (default: all): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--quick", action="store_true", help="scaled down (about 2 minutes)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--readme", action="store_true", help="write the table into README.md's reliability section"
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch directories")
    p.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    args = p.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)} (choose from {', '.join(SCENARIOS)})")
    return args


def run_one(name: str, quick: bool, keep: bool, verbose: bool) -> Result:
    mod = load(name)
    tmp = Path(tempfile.mkdtemp(prefix=f"qframe-chaos-{name}-"))
    ctx = Context(tmp=tmp, quick=quick, verbose=verbose)
    t0 = time.monotonic()
    try:
        res: Result = mod.run(ctx)
    except Skip as exc:
        res = Result(name, skipped=str(exc))
    except Exception as exc:
        res = Result(name, error=f"{type(exc).__name__}: {exc}")
        if verbose:
            traceback.print_exc()
    res.name = name
    res.seconds = time.monotonic() - t0
    if keep or res.status in ("FAIL", "ERROR"):
        res.note(f"scratch: {tmp}")
    if not keep and res.status in ("PASS", "SKIP"):
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _n(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def table(results: list[Result]) -> str:
    """The Markdown table (the README's reliability section shows the same)."""
    rows = [
        "| scenario | defect | sent | delivered | lost | duplicated | counted | peak RSS MiB | s | result |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        defect = getattr(load(r.name), "DEFECT", "") or "held"
        status = r.status
        if status == "FAIL":
            bad = r.failed_checks()
            status += ": " + bad[0] + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
        elif status == "SKIP":
            status += ": " + r.skipped
        elif status == "ERROR":
            status += ": " + r.error
        rows.append(
            f"| {r.name} | {defect} | {_n(r.sent)} | {_n(r.delivered)} | {_n(r.lost)} | "
            f"{_n(r.duplicated)} | {_n(r.counted)} | {_n(r.peak_rss_mib)} | {r.seconds:.0f} | {status} |"
        )
    return "\n".join(rows)


BEGIN, END = "<!-- chaos:begin -->", "<!-- chaos:end -->"


def update_readme(results: list[Result], quick: bool) -> None:
    """Replace the table between the chaos markers of README.md."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    a, b = text.index(BEGIN), text.index(END)
    when = time.strftime("%Y-%m-%d", time.gmtime())
    legend = "\n".join(f"- `{r.name}`: {load(r.name).TITLE}" for r in results)
    block = (
        f"{BEGIN}\n{table(results)}\n\n`make chaos{' CHAOS_ARGS=--quick' if quick else ''}`"
        f", {when}; the notes of each scenario are in its output.\n\n{legend}\n"
    )
    readme.write_text(text[:a] + block + text[b:])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    names = args.scenarios or SCENARIOS
    if args.list:
        for n in names:
            m = load(n)
            print(f"{n:16} {m.DEFECT or 'held':5} {m.TITLE}")
        return 0
    results = []
    t0 = time.monotonic()
    for n in names:
        print(f"== {n}: {load(n).TITLE}", flush=True)
        r = run_one(n, args.quick, args.keep, args.verbose)
        results.append(r)
        print(f"   {r.status} in {r.seconds:.0f}s", flush=True)
        for what, ok in r.checks:
            print(f"   {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        for note in r.notes:
            print(f"   - {note}", flush=True)
        if r.skipped:
            print(f"   skipped: {r.skipped}", flush=True)
        if r.error:
            print(f"   error: {r.error}", flush=True)
    print(
        f"\n{table(results)}\n\n{'quick' if args.quick else 'full'} run, "
        f"{time.monotonic() - t0:.0f} s",
        flush=True,
    )
    if args.readme:
        update_readme(results, args.quick)
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=1))
    bad = [r.name for r in results if r.status in ("FAIL", "ERROR")]
    if bad:
        print(f"failed: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0
