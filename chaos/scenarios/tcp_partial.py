"""(a) tcp connections each holding ~1,000 KiB with no newline (issue #21, defect 1).

Before the fix 600 of them took qframe from ~110 to 940 MiB.  Intended: the unfinished
data of all connections is held within one budget, the largest holder is cut and
counted, and a well-behaved client sending meanwhile loses nothing.
"""

from __future__ import annotations

from chaos.common import Context, Result
from chaos.scenarios._flood import flood_scenario

NAME = "tcp_partial"
TITLE = "tcp: 600 connections × 1,000 KiB with no newline, a good client alongside"
DEFECT = "1"


def run(ctx: Context) -> Result:
    return flood_scenario(
        ctx,
        Result(NAME),
        {"kind": "tcp"},
        "line",
        conns=ctx.scale(600, 300),
        per_conn=1000 * 1024,
        good=ctx.scale(20_000, 5_000),
    )
