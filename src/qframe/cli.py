"""Command line: ``qframe run | validate | plugins | version | grok | tap | top | test``."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import sys

import click

from . import __version__
from .config import PipelineSpec
from .errors import ConfigError
from .logs import LEVELS, setup_logging
from .options import describe
from .registry import Registry

EXIT_CONFIG = 2


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _load_or_exit(
    path: str | None, sets: list[str], log_level: str | None, registry: Registry
) -> tuple[PipelineSpec, object]:
    from .runtime.daemon import ConfigSource, resolve_config_path

    source = ConfigSource(resolve_config_path(path), list(sets), log_level)
    try:
        return source.load(registry), source
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(f"config error: {p}", err=True)
        sys.exit(EXIT_CONFIG)


class _LazyGroup(click.Group):
    """A group whose heavier subcommands are imported only when they are used: ``qframe run``
    does not pay for the test runner, the tap/top client and the grok debugger (aiohttp and
    the test harness alone were about 0.25 CPU-s of every start)."""

    LAZY = {
        "grok": ("qframe.grok.cli", "grok_command"),
        "tap": ("qframe.ops.client", "tap_command"),
        "top": ("qframe.ops.client", "top_command"),
        "test": ("qframe.ops.testfile", "test_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        where = self.LAZY.get(name)
        if where is None:
            return super().get_command(ctx, name)
        cmd: click.Command = getattr(importlib.import_module(where[0]), where[1])
        return cmd


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """qframe: collect logs, events and metrics from containers and ship them."""


@main.command()
@click.option(
    "-c",
    "--config",
    "path",
    type=click.Path(),
    help="config file (default ./qframe.yml, else the embedded pipeline)",
)
@click.option(
    "--set", "sets", multiple=True, metavar="TYPE.NAME.KEY=VALUE", help="override a config key"
)
@click.option("--log-level", type=click.Choice(list(LEVELS)), help="override log.level")
def run(path: str | None, sets: tuple[str, ...], log_level: str | None) -> None:
    """Run a pipeline until SIGINT/SIGTERM (or the end of its input)."""
    from .runtime.daemon import Daemon

    setup_logging(log_level or "info")
    registry = Registry.discover()
    spec, source = _load_or_exit(path, list(sets), log_level, registry)
    setup_logging(spec.log_level)
    _use_uvloop()
    from .runtime.tuning import tune_process

    tune_process()
    daemon = Daemon(source, registry)  # type: ignore[arg-type]
    code = asyncio.run(daemon.run(spec))
    sys.exit(code)


@main.command()
@click.option("-c", "--config", "path", type=click.Path(), required=True, help="config file")
@click.option(
    "--set", "sets", multiple=True, metavar="TYPE.NAME.KEY=VALUE", help="override a config key"
)
def validate(path: str, sets: tuple[str, ...]) -> None:
    """Check a config without starting anything; print the compiled graph."""
    setup_logging("warn")
    registry = Registry.discover()
    spec, _ = _load_or_exit(path, list(sets), None, registry)
    for w in spec.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{path}: OK")
    click.echo(spec.describe())


@main.command()
@click.option("--describe", "kind", metavar="KIND", help="print the options of one plugin kind")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def plugins(kind: str | None, as_json: bool) -> None:
    """List the installed plugins (or describe one)."""
    setup_logging("error")
    reg = Registry.discover(load=True)
    if kind is None:
        rows = [
            {
                "type": t,
                "kind": k,
                "origin": reg.origin.get((t, k), "(added)"),
                "doc": first_line(c.__doc__),
            }
            for (t, k), c in sorted(reg.plugins.items())
        ]
        broken = [{"type": t, "kind": k, "error": e} for (t, k), e in sorted(reg.broken.items())]
        if as_json:
            click.echo(json.dumps({"plugins": rows, "broken": broken}, indent=2))
            return
        for r in rows:
            click.echo(f"{r['type']:<10} {r['kind']:<16} {r['doc']}")
        for b in broken:
            click.echo(f"{b['type']:<10} {b['kind']:<16} BROKEN: {b['error']}")
        return
    matches = [
        (t, k, c) for (t, k), c in sorted(reg.plugins.items()) if k == kind or f"{t}.{k}" == kind
    ]
    if not matches:
        click.echo(f"no plugin kind {kind!r}; see `qframe plugins`", err=True)
        sys.exit(EXIT_CONFIG)
    for t, k, c in matches:
        rows = describe(c.Options)
        if as_json:
            click.echo(
                json.dumps(
                    {"type": t, "kind": k, "doc": c.__doc__, "options": rows}, indent=2, default=str
                )
            )
            continue
        click.echo(f"{t} {k}\n")
        click.echo(plain(_dedent(c.__doc__ or "")))
        click.echo("\nOptions:")
        for r in rows:
            default = json.dumps(r["default"], default=str)
            click.echo(f"  {r['key']:<24} {r['type']:<16} default {default:<14} {r['doc']}")
        click.echo("")


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"qframe {__version__} (Python {sys.version.split()[0]})")


def first_line(doc: str | None) -> str:
    """The docstring's first paragraph on one line, as plain text (its summary)."""
    text = plain(_dedent(doc or "")).strip()
    return " ".join(text.split("\n\n", 1)[0].split())


def _dedent(doc: str) -> str:
    import inspect

    return inspect.cleandoc(doc)


_ROLE = re.compile(r":[a-z]+:`~?([^`<]*?)\s*(?:<[^`>]*>)?`")  # :class:`~a.B` → a.B
_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")


def plain(text: str) -> str:
    """reStructuredText inline markup as plain text for the terminal: ``x`` → x,
    :class:`~m.C` → C, a paragraph ending in ``::`` (a literal block follows) ends in ``:``."""

    def role(m: re.Match[str]) -> str:
        target = m.group(1)
        return (
            target.rsplit(".", 1)[-1]
            if m.group(0).startswith(":") and "~" in m.group(0)
            else target
        )

    text = _ROLE.sub(role, text)
    text = _LITERAL.sub(lambda m: m.group(1) or m.group(2), text)
    return re.sub(r"(\S) ?::$", r"\1:", text, flags=re.M)


if __name__ == "__main__":
    main()
