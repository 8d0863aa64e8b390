"""The transform filters: pipeline lines/s and each filter's own CPU-µs per line.

Pipelines (``qframe run``, one core with taskset, ``BENCH_LINES`` lines, default
1,000,000, best of ``BENCH_RUNS`` (default 2), process start included), output canonical
JSON lines into a file:

- ``stdin → json → log``: a 6-key JSON object per line (target ≥ 300,000 lines/s);
- ``stdin → kv (logfmt) → log``: 6 pairs per line;
- ``stdin → dissect → log`` and ``stdin → grok %{COMBINEDAPACHELOG} → log`` on the same
  Apache combined lines (target: dissect ≥ 3 × grok);
- ``stdin → dissect → date → mutate → log`` (the whole chain);
- ``stdin → log`` (no filter) and the floor of the dissect pipeline: ``stdin → preset →
  log``, where ``preset`` (bench/preset_run.py, bench only) gives each line the fields
  dissect gives it from a table made at start (data: 4,096 distinct Apache lines over
  and over; dissect is run on the same data): the best any parser of that line can do in
  this pipeline, so dissect's pipeline over the floor's, and the floor's over grok's, are
  reported.

Own CPU per line: each filter's ``process()`` over the same 1,000,000 messages in batches
of 1,000 (as the runtime hands them), ``time.process_time`` — ``json``, ``kv``, ``dissect``
(Apache line), ``date`` (the Apache timestamp, as a log has them: in order, 12 lines a second), ``mutate`` (3 operations: rename, convert,
add-tags) and a ``when`` condition (``fields.level == "error"``, evaluated as the runtime
does: ``list(map(test, batch))``).  Targets: date ≤ 1 µs, when ≤ 0.3 µs.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    OUT,
    QFRAME,
    apache_file,
    apache_lines,
    bench_lines,
    count_lines,
    report,
    run_timed,
)

from qframe.message import Message
from qframe.registry import Registry
from qframe.telemetry import PluginMetrics

COMBINED = (
    '%{clientip} %{ident} %{auth} [%{ts}] "%{verb} %{request} HTTP/%{httpversion}" '
    '%{status} %{bytes} "%{referrer}" "%{agent}"'
)
_LEVELS = ["info", "info", "info", "debug", "warn", "error"]


def json_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return [
        orjson.dumps(
            {
                "time": f"2026-11-26T05:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z",
                "level": rnd.choice(_LEVELS),
                "msg": f"request {i} served",
                "user": f"u{rnd.randint(1, 5000)}",
                "status": rnd.choice((200, 200, 404, 500)),
                "dur_ms": round(rnd.random() * 100, 3),
            }
        ).decode()
        for i in range(n)
    ]


def logfmt_lines(n: int, seed: int = 8) -> list[str]:
    rnd = random.Random(seed)
    return [
        f'ts=2026-11-26T05:{i % 60:02d}:00Z level={rnd.choice(_LEVELS)} msg="request {i} served" '
        f"user=u{rnd.randint(1, 5000)} status={rnd.choice((200, 404, 500))} dur={rnd.random():.3f}"
        for i in range(n)
    ]


def data_file(name: str, lines: list[str]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    p = OUT / f"{name}-{len(lines)}.log"
    if not p.exists():
        p.write_text("\n".join(lines) + "\n")
    return p


PRESET = 4096  # distinct lines in the floor's data (its table)

PIPELINES = {
    # no filter: what reading stdin and writing each line as JSON costs (no fields)
    "(no filter)": ("apache", "", "stdin"),
    # the floor of the dissect pipeline: each line gets the fields dissect gives it from a
    # table made at start (bench/preset_run.py); data: PRESET distinct lines over and over
    "floor (fields preset)": (
        "apache-cycled",
        f"  f: {{kind: preset, inputs: [stdin], sample: @DATA@, max-lines: {PRESET}, "
        f"mapping: '{COMBINED}'}}\n",
        "f",
    ),
    "dissect (the floor's lines)": (
        "apache-cycled",
        f"  f: {{kind: dissect, inputs: [stdin], mapping: '{COMBINED}'}}\n",
        "f",
    ),
    "json": ("json", "  f: {kind: json, inputs: [stdin]}\n", "f"),
    "kv": ("logfmt", "  f: {kind: kv, inputs: [stdin], mode: logfmt}\n", "f"),
    "dissect": ("apache", f"  f: {{kind: dissect, inputs: [stdin], mapping: '{COMBINED}'}}\n", "f"),
    "grok": (
        "apache",
        '  f: {kind: grok, inputs: [stdin], pattern: "%{COMBINEDAPACHELOG}"}\n',
        "f",
    ),
    "dissect+date+mutate": (
        "apache",
        f"  f: {{kind: dissect, inputs: [stdin], mapping: '{COMBINED}'}}\n"
        "  d: {kind: date, inputs: [f], field: fields.ts, formats: ['dd/MMM/yyyy:HH:mm:ss Z']}\n"
        "  m: {kind: mutate, inputs: [d], rename: {fields.clientip: fields.ip}, "
        "convert: {fields.bytes: int}, add-tags: [web]}\n",
        "m",
    ),
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pipeline_command(name: str, data: Path) -> tuple[str, str, list[str]]:
    """Pipeline ``name``'s filters (its config text, ``data`` put in), the name its
    handler reads, and the command that runs it (qframe, or the preset runner)."""
    _, filters, last = PIPELINES[name]
    filters = filters.replace("@DATA@", str(data))
    cmd = (
        [sys.executable, str(Path(__file__).with_name("preset_run.py"))]
        if "preset" in filters
        else [QFRAME]
    )
    return filters, last, cmd


def pipeline_rate(name: str, data: Path, n: int, runs: int) -> tuple[float, float]:
    """(lines/s, lines per CPU-second) of the best run."""
    filters, last, cmd = pipeline_command(name, data)
    pin = ["taskset", "-c", "0"] if os.path.exists("/usr/bin/taskset") else []
    best = best_cpu = float("inf")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.json"
        cfg = Path(d) / "p.yml"
        cfg.write_text(
            f"log: {{level: error}}\ndata-dir: {d}/data\ncollector:\n  stdin: {{}}\nfilter:\n"
            f"{filters}handler:\n  log: {{inputs: [{last}], format: json, path: {out}, "
            "source-success: any}\n"
        )
        for _ in range(runs):
            out.unlink(missing_ok=True)
            with open(data, "rb") as stdin:
                cpu0 = _cpu()
                dt, _peak, res = run_timed(
                    [*pin, *cmd, "run", "-c", str(cfg)], stdin=stdin, stderr=subprocess.PIPE
                )
            best_cpu = min(best_cpu, _cpu() - cpu0)
            if res.returncode != 0:
                raise SystemExit(f"{name}: exit {res.returncode}: {res.stderr.decode()[-400:]}")
            got = count_lines(out)
            if got != n:
                raise SystemExit(f"{name}: lost lines: {got} of {n}")
            best = min(best, dt)
    return n / best, n / best_cpu


def make_filter(kind: str, options: dict[str, Any]) -> Any:
    cls = Registry.discover().get("filter", kind)
    opts = cls.Options.model_validate(options)
    node = SimpleNamespace(metrics=PluginMetrics("bench", kind, "filter", cls.metric_specs()))
    return cls("bench", opts, node)


def own_cpu(messages: list[Message], run: Any) -> float:
    """CPU µs per message of ``run(batch)`` over batches of 1,000."""
    batches = [messages[i : i + 1000] for i in range(0, len(messages), 1000)]
    t0 = time.process_time()
    for b in batches:
        run(b)
    return (time.process_time() - t0) / len(messages) * 1e6


def filter_cpu(kind: str, options: dict[str, Any], make: Any, n: int) -> float:
    f = make_filter(kind, options)
    msgs = [make(i) for i in range(n)]
    loop = asyncio.new_event_loop()
    try:
        return own_cpu(msgs, lambda b: loop.run_until_complete(f.process(b)))
    finally:
        loop.close()


def main() -> None:
    n = bench_lines()
    runs = int(os.environ.get("BENCH_RUNS", 2))
    apache = apache_lines(n)
    files = {
        "json": data_file("json6", json_lines(n)),
        "logfmt": data_file("logfmt6", logfmt_lines(n)),
        "apache": apache_file(n),
        "apache-cycled": data_file("apache-cycled", [apache[i % PRESET] for i in range(n)]),
    }
    rates, cpu_rates = {}, {}
    for name, (src, _, _) in PIPELINES.items():
        rates[name], per_cpu = pipeline_rate(name, files[src], n, runs)
        cpu_rates[name] = per_cpu
        report(
            f"transforms stdin→{name}→log",
            "lines_per_s",
            rates[name],
            "lines/s",
            f"{n} lines, one core, best of {runs}, process start included",
        )
        report(
            f"transforms stdin→{name}→log",
            "lines_per_cpu_s",
            per_cpu,
            "lines/s",
            "lines per CPU second of the qframe process (user+sys): robust on a busy machine",
        )
    for metric, r, how in (("ratio", rates, "lines/s"), ("ratio_cpu", cpu_rates, "lines/CPU-s")):
        report(
            "transforms dissect vs grok",
            metric,
            r["dissect"] / r["grok"],
            "x",
            f"pipeline {how} of dissect over grok on the same Apache combined lines (target ≥ 3)",
        )
        floor = r["floor (fields preset)"]
        report(
            "transforms dissect vs its floor",
            metric,
            r["dissect (the floor's lines)"] / floor,
            "x",
            f"dissect's pipeline {how} over the floor's (the same lines, their fields preset: "
            "a parser that cost nothing): 1.0 is the best any parser can do",
        )
        report(
            "transforms grok vs the floor",
            metric,
            floor / r["grok"],
            "x",
            f"the floor's {how} over grok's: the most any parser's pipeline can beat grok's by",
        )
    # own CPU per line
    jl = json_lines(n)
    kl = logfmt_lines(n)
    # the Apache timestamps of a day's log (12 lines a second, in order, as a log has them)
    ts = [
        time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1795669200 + i // 12))
        for i in range(n)
    ]
    cases: list[tuple[str, str, dict[str, Any], Any]] = [
        ("json", "json", {}, lambda i: Message(jl[i], 0.0)),
        ("kv", "kv", {"mode": "logfmt"}, lambda i: Message(kl[i], 0.0)),
        ("dissect", "dissect", {"mapping": COMBINED}, lambda i: Message(apache[i], 0.0)),
        (
            "date",
            "date",
            {"field": "fields.ts", "formats": ["dd/MMM/yyyy:HH:mm:ss Z"]},
            lambda i: Message("x", 0.0, fields={"ts": ts[i]}),
        ),
        (
            "mutate (3 operations)",
            "mutate",
            {
                "rename": {"fields.a": "fields.b"},
                "convert": {"fields.n": "int"},
                "add-tags": ["web"],
            },
            lambda i: Message("x", 0.0, fields={"a": "v", "n": str(i)}),
        ),
    ]
    for label, kind, opts, make in cases:
        us = filter_cpu(kind, opts, make, n)
        report(
            f"transforms {label}",
            "cpu_us_per_line",
            us,
            "µs",
            "the filter's own process(), batches of 1,000",
        )
    from qframe.condition import compile_condition

    test = compile_condition('fields.level == "error"').test
    msgs = [Message("x", 0.0, fields={"level": _LEVELS[i % 6]}) for i in range(n)]
    us = own_cpu(msgs, lambda b: list(map(test, b)))
    report(
        'transforms when fields.level == "error"',
        "cpu_us_per_line",
        us,
        "µs",
        "list(map(test, batch)) as the runtime does",
    )


if __name__ == "__main__":
    main()
