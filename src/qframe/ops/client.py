"""``qframe tap`` and ``qframe top``: clients of a running daemon's ops server."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, BinaryIO

import click

from .top import render, sample

DEFAULT_HTTP = os.environ.get("QFRAME_HTTP", "127.0.0.1:8123")

http_option = click.option(
    "--http",
    "address",
    default=DEFAULT_HTTP,
    show_default=True,
    metavar="HOST:PORT",
    help="the daemon's ops server (its `http:`; env QFRAME_HTTP)",
)
token_option = click.option(
    "--token",
    envvar="QFRAME_HTTP_TOKEN",
    help="the daemon's http-token (env QFRAME_HTTP_TOKEN)",
)


def _url(address: str, path: str) -> str:
    base = address if "://" in address else f"http://{address}"
    return base.rstrip("/") + path


def open_url(address: str, path: str, token: str | None, timeout: float = 5.0) -> BinaryIO:
    """GET ``path``; exit 1 with the server's reason when it refuses."""
    req = urllib.request.Request(_url(address, path))
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        return urllib.request.urlopen(req, timeout=timeout)  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            reason = exc.reason
        click.echo(f"qframe: {path.split('?')[0]}: {exc.code} {reason}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"qframe: cannot reach {_url(address, '')}: {exc}", err=True)
        sys.exit(1)


@click.command("tap")
@click.argument("instances", nargs=-1, required=True)
@http_option
@token_option
@click.option("--limit", type=click.IntRange(min=1), help="exit after N messages")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: the canonical JSON of each message, one a line; text: instance and text",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=1000.0,
    show_default=True,
    help="messages a second at most (the rest are counted, not shown); 0: all",
)
def tap_command(
    instances: tuple[str, ...],
    address: str,
    token: str | None,
    limit: int | None,
    fmt: str,
    rate: float,
) -> None:
    """Stream the messages INSTANCE... emit, live, from a running daemon (its /tap).

    The daemon's config must set `http-tap: true`.  A tap never slows the pipeline: what
    the rate limit or a slow terminal leaves out is counted and shown at the end (stderr).
    """
    query = urllib.parse.urlencode([("instance", i) for i in instances] + [("rate", f"{rate:g}")])
    shown = 0
    stats: dict[str, Any] = {}
    out = sys.stdout
    resp = open_url(address, f"/tap?{query}", token, timeout=3600)
    try:
        for raw in resp:
            line = json.loads(raw)
            if "tap" in line:
                stats = line["tap"]
                if stats.get("end"):
                    break
                continue
            msg = line["message"]
            if fmt == "json":
                out.write(json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n")
            else:
                out.write(f"{line['instance']}: {msg.get('message', '')}\n")
            shown += 1
            if limit is not None and shown >= limit:
                break
        out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        resp.close()
    dropped = stats.get("dropped", {})
    click.echo(
        f"tap: {shown} shown; dropped by the daemon: {dropped.get('rate', 0)} over the rate, "
        f"{dropped.get('full', 0)} while the client lagged"
        + ("" if stats.get("end") else " (as last reported)"),
        err=True,
    )


@click.command("top")
@http_option
@token_option
@click.option("--once", is_flag=True, help="print one plain snapshot and exit")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="seconds between refreshes (and between --once's two samples)",
)
def top_command(address: str, token: str | None, once: bool, interval: float) -> None:
    """A live view of a running daemon's instances: rates, queues, errors, drops."""

    def fetch() -> dict[str, Any]:
        with open_url(address, "/health", token) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    prev = sample(fetch())
    if once:
        time.sleep(interval)
        click.echo(render(prev, sample(fetch()), color=False))
        return
    out = sys.stdout
    out.write("\x1b[?1049h\x1b[?25l")  # the alternate screen, no cursor
    try:
        while True:
            time.sleep(interval)
            cur = sample(fetch())
            out.write("\x1b[H\x1b[2J" + render(prev, cur, color=out.isatty()) + "\n")
            out.write(f"\n{address} · every {interval:g}s · Ctrl-C quits")
            out.flush()
            prev = cur
    except KeyboardInterrupt:
        pass
    finally:
        out.write("\x1b[?25h\x1b[?1049l")
        out.flush()
