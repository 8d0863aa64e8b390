"""``qframe grok``: a grok debugger on the command line."""

from __future__ import annotations

import json
import sys

import click

from .debug import diagnose
from .engine import Grok
from .library import GrokError, PatternLibrary

EXIT_NOMATCH = 1
EXIT_PATTERN = 2


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-p",
    "--pattern",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="grok pattern, e.g. '%{COMBINEDAPACHELOG}' (repeat to try several in order)",
)
@click.option(
    "--pattern-dir",
    "dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="a directory of Logstash-format pattern files (repeatable)",
)
@click.option(
    "--define",
    "defines",
    multiple=True,
    metavar="NAME=REGEX",
    help="an extra named pattern (repeatable)",
)
@click.option("--timeout-ms", default=500, show_default=True, help="time budget per line")
@click.option("--explain", is_flag=True, help="print each pattern's expansion and engine")
@click.option(
    "--list", "list_", is_flag=True, help="list the pattern library, grouped by file, and exit"
)
@click.option(
    "--ecs-compatibility",
    "ecs",
    type=click.Choice(["disabled", "v1", "v8"]),
    default="disabled",
    show_default=True,
    help="the library: legacy field names, or ECS fields",
)
@click.argument("lines", nargs=-1)
def grok_command(
    patterns: tuple[str, ...],
    dirs: tuple[str, ...],
    defines: tuple[str, ...],
    timeout_ms: int,
    explain: bool,
    list_: bool,
    ecs: str,
    lines: tuple[str, ...],
) -> None:
    """Match log lines against grok patterns and print the captures as JSON.

    Lines come from the arguments, else from standard input (one per line).  Prints one
    JSON object per line: {"match": true, "captures": {…}} or {"match": false, "why":
    "…"}, where "why" names the longest prefix of the pattern's parts that matches and
    the part that does not.  Exit status: 0 all lines matched, 1 some did not, 2 a
    pattern problem.
    """
    try:
        lib = PatternLibrary(ecs=ecs)
        for d in dirs:
            lib.add_dir(d)
        for spec in defines:
            name, sep, rx = spec.partition("=")
            if not sep:
                raise GrokError(f"--define {spec!r}: expected NAME=REGEX")
            lib.add(name.strip(), rx)
        if list_:
            by_file: dict[str, list[str]] = {}
            for name in lib.names():
                by_file.setdefault(lib.sources.get(name, ""), []).append(name)
            for src in sorted(by_file, key=lambda f: (f != "grok-patterns.grok", f)):
                click.echo(f"# {src} ({len(by_file[src])})")
                for name in by_file[src]:
                    click.echo(f"{name:<32} {lib.get(name)}")
                click.echo("")
            return
        if not patterns:
            raise click.UsageError("give at least one --pattern (or --list)")
        timeout = timeout_ms / 1000.0
        groks = [Grok(p, lib, timeout=timeout) for p in patterns]
    except GrokError as exc:
        click.echo(f"pattern error: {exc}", err=True)
        sys.exit(EXIT_PATTERN)
    if explain:
        for g in groks:
            est = g.estimate
            click.echo(
                json.dumps(
                    {
                        "pattern": g.pattern,
                        "fields": g.field_names,
                        "engine": g.engine,
                        "estimate": est.describe(),
                        "regex": g.regex,
                    },
                    ensure_ascii=False,
                )
            )
        if not lines and sys.stdin.isatty():
            return
    source = lines if lines else (ln.rstrip("\r\n") for ln in sys.stdin)
    failed = False
    for line in source:
        out = None
        for p, g in zip(patterns, groks, strict=True):
            d = diagnose(p, lib, line, timeout, g)
            if d.matched or out is None:
                out = d.to_dict()
                if len(patterns) > 1:
                    out["pattern"] = p
            if d.matched:
                break
        assert out is not None
        failed = failed or not out["match"]
        click.echo(json.dumps(out, ensure_ascii=False, default=str))
    if failed:
        sys.exit(EXIT_NOMATCH)
