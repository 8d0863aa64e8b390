"""The table of ``qframe top``: rates from two ``/health`` samples."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["render", "sample"]

_STATE_COLOR = {"ok": "32", "degraded": "33", "starting": "33", "failed": "31", "stopped": "90"}


def sample(health: dict[str, Any]) -> dict[str, Any]:
    return {"t": time.monotonic(), "plugins": health.get("plugins", [])}


def _rate(cur: dict[str, Any], prev: dict[str, Any] | None, key: str, dt: float) -> float:
    if prev is None or dt <= 0:
        return 0.0
    return max(0.0, (cur[key] - prev[key]) / dt)


def _fmt_rate(v: float) -> str:
    if v >= 10_000:
        return f"{v / 1000:,.0f}k"
    return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"


def render(prev: dict[str, Any], cur: dict[str, Any], color: bool = False) -> str:
    """One screen: a row per instance, then the pipeline's totals."""
    dt = cur["t"] - prev["t"]
    before = {(p["type"], p["plugin"]): p for p in prev["plugins"]}
    head = (
        "INSTANCE",
        "TYPE",
        "KIND",
        "STATE",
        "IN/s",
        "OUT/s",
        "QUEUE",
        "ERRORS",
        "DROPS",
        "RESTARTS",
    )
    rows: list[tuple[str, ...]] = []
    states: list[str] = []
    tot_in = tot_out = 0.0
    errors = drops = restarts = 0
    for p in cur["plugins"]:
        old = before.get((p["type"], p["plugin"]))
        rin = _rate(p, old, "received", dt)
        rout = _rate(p, old, "emitted", dt)
        dropped = sum(p.get("dropped", {}).values())
        cap = p.get("queue_capacity", 0)
        queue = f"{p.get('queue_depth', 0)}/{cap}" if cap else "-"
        if p["type"] == "collector":
            tot_in += rout
        elif p["type"] == "handler":
            tot_out += rin
        errors += p.get("errors", 0)
        drops += dropped
        restarts += p.get("restarts", 0)
        states.append(p["state"])
        rows.append(
            (
                p["plugin"],
                p["type"],
                p["kind"],
                p["state"],
                _fmt_rate(rin) if p["type"] != "collector" else "-",
                _fmt_rate(rout) if p["type"] != "handler" else "-",
                queue,
                str(p.get("errors", 0)),
                str(dropped),
                str(p.get("restarts", 0)),
            )
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {4, 5, 6, 7, 8, 9}

    def line(r: tuple[str, ...], bold: bool = False) -> str:
        cells = []
        for i, v in enumerate(r):
            cell = v.rjust(widths[i]) if i in right else v.ljust(widths[i])
            if color and i == 3:
                cell = f"\x1b[{_STATE_COLOR.get(v, '0')}m{cell}\x1b[0m"
            cells.append(cell)
        text = "  ".join(cells).rstrip()
        return f"\x1b[1m{text}\x1b[0m" if bold and color else text

    out = [line(head, bold=True), *(line(r) for r in rows)]
    out.append("")
    out.append(
        f"pipeline: in {_fmt_rate(tot_in)}/s  out {_fmt_rate(tot_out)}/s  "
        f"errors {errors}  drops {drops}  restarts {restarts}  "
        f"instances {len(rows)} ({sum(s == 'ok' for s in states)} ok)"
    )
    return "\n".join(out)
