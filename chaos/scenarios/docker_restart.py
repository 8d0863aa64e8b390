"""Docker engine restarts under docker-logs (held before issue #21).

A container writes numbered lines; the engine's API service (Podman's Docker API) is
stopped and started again several times while it writes (the container keeps running,
as when dockerd restarts with live-restore).  docker-logs must resume where it was:
every line once, none twice.
"""

from __future__ import annotations

import time

from chaos.clients import tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    fill,
    service,
    settle,
    wait_for,
)

NAME = "docker_restart"
TITLE = "docker-logs while the engine's API restarts 3 times: every line once"
DEFECT = ""


def run(ctx: Context) -> Result:
    from tests.services.podman import PodmanService

    res = Result(NAME)
    lines = ctx.scale(1500, 300)
    restarts = ctx.scale(3, 1)
    svc = service(PodmanService.launch)
    counter = (
        f"i=0; while [ $i -lt {lines} ]; do printf 'chaos-d-%09d x\\n' $i; i=$((i+1)); "
        "sleep 0.01; done; sleep 3600"
    )
    out = ctx.tmp / "out.json"
    q = Qframe(
        ctx.tmp,
        {
            "tick": "200ms",
            "collector": {
                "docker-events": {"docker-host": svc.docker_host},
                "docker-logs": {
                    "docker-host": svc.docker_host,
                    "inputs": ["docker-events"],
                    "from-beginning": True,
                    "rescan": "2s",
                },
            },
            "handler": {
                "out": {
                    "kind": "log",
                    "inputs": ["docker-logs"],
                    "format": "json",
                    "path": str(out),
                }
            },
        },
    )
    name = "chaos-counter"
    try:
        q.start()
        wait_for(lambda: q.status() == "ok", 20)
        svc.run(name, "sh", "-c", counter)
        wait_for(lambda: len(tally_file(out, "d")) > 0, 20)
        t0 = time.monotonic()
        before = len(tally_file(out, "d"))
        for _ in range(restarts):
            time.sleep(2)
            svc.stop_service()
            time.sleep(3)
            svc.start_service()
        res.note(
            "engine restarted %d times in %.0f s; lines delivered before: %d, after: %d",
            restarts,
            time.monotonic() - t0,
            before,
            len(tally_file(out, "d")),
        )
        settle(lambda: len(tally_file(out, "d")), lines, timeout=ctx.scalef(90, 60), stall=15)
        fill(res, tally_file(out, "d"), lines)
        res.counted = q.counted()
        res.peak_rss_mib = q.peak_rss_mib
        res.note("qframe counted: %s", describe_counts(q.counts()))
        res.check("qframe alive", q.alive())
        res.delivery_checks(allow_counted=False)
        res.check("no line duplicated", res.duplicated == 0)
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        q.close()
        svc.close()
    return res
