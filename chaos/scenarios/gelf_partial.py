"""(b) GELF-TCP connections each holding 7 MiB with no NUL (issue #21, defect 1).

Before the fix 60 of them took qframe from 53 to 549 MiB.  Intended as for tcp: one
budget for the unfinished frames of all connections, the largest holder cut and counted,
and the well-behaved client's messages all delivered.
"""

from __future__ import annotations

from chaos.common import Context, Result
from chaos.scenarios._flood import flood_scenario

NAME = "gelf_partial"
TITLE = "GELF-TCP: 60 connections × 7 MiB with no NUL, a good client alongside"
DEFECT = "1"


def run(ctx: Context) -> Result:
    return flood_scenario(
        ctx,
        Result(NAME),
        {"kind": "gelf", "protocol": "tcp"},
        "gelf",
        conns=ctx.scale(60, 40),
        per_conn=7 * 1024 * 1024,
        good=ctx.scale(20_000, 5_000),
    )
