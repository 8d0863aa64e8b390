"""Peak memory of ``qframe run`` when many peers hold unfinished lines (issue #21, defect 1).

Scenarios (each against a fresh daemon, ``tcp`` or ``gelf`` over TCP → ``log`` to a file):

- ``tcp``: BENCH_UNF_CONNS (200) connections each send BENCH_UNF_KIB (1000) KiB without a
  newline, ``max-buffer-bytes`` BENCH_UNF_BUDGET_MIB (32) MiB;
- ``gelf``: 60 connections each send 7 MiB of a GELF frame without its NUL, the default
  budget (64 MiB).

The peers keep their connections open while the daemon's peak resident memory (VmHWM,
the kernel's high-water mark) is read, then close them.  Reported: the resident memory
before the peers (baseline), its peak, the peak minus the baseline against the budget,
and what the daemon says (``qframe_buffered_peak_bytes``, unfinished lines discarded).
``BENCH_QFRAME`` runs another ``qframe`` executable (e.g. an older build, to compare).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_network import free_port, stop, wait_port
from common import QFRAME, report

BIN = os.environ.get("BENCH_QFRAME", QFRAME)
MIB = 1 << 20


def status(pid: int, key: str) -> int:
    """A field of /proc/<pid>/status in bytes (VmRSS, VmHWM)."""
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


def metrics(http: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as r:
        return r.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def hold(port: int, conns: int, data: bytes, settle: float = 30.0) -> int:
    """Open ``conns`` connections, send ``data`` on each; return how many sent it all."""
    peers = []
    for _ in range(conns):
        peers.append(await asyncio.open_connection("127.0.0.1", port))
    for _, w in peers:
        w.write(data)

    async def drain(w: asyncio.StreamWriter) -> bool:
        try:
            await asyncio.wait_for(w.drain(), settle)
            return True
        except TimeoutError:
            return False

    sent = await asyncio.gather(*(drain(w) for _, w in peers))
    hold.peers = peers  # type: ignore[attr-defined]
    return sum(sent)


async def release() -> None:
    for _, w in hold.peers:  # type: ignore[attr-defined]
        w.close()


def scenario(kind: str, conns: int, size: int, budget: int | None) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="qframe-unf-"))
    port, http = free_port(), free_port()
    limits = f", max-buffer-bytes: {budget}" if budget else ""
    if kind == "tcp":
        net = (
            f"{{kind: tcp, bind-host: 127.0.0.1, bind-port: {port}, max-line-bytes: 2MiB{limits}}}"
        )
        data = b"x" * size
    else:
        net = f"{{kind: gelf, protocol: tcp, bind-host: 127.0.0.1, port: {port}{limits}}}"
        data = b'{"short_message":"' + b"x" * (size - 18)
    conf = tmp / "unf.yml"
    conf.write_text(
        f"""log: {{level: error}}
data-dir: {tmp / "data"}
http: 127.0.0.1:{http}
collector:
  net: {net}
handler:
  out: {{kind: log, inputs: [net], format: json, path: "{tmp / "out.json"}"}}
"""
    )
    proc = subprocess.Popen([BIN, "run", "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        time.sleep(1.0)
        base = status(proc.pid, "VmRSS")
        t0 = time.monotonic()
        sent = asyncio.run(_attack(port, conns, data, proc.pid))
        elapsed = time.monotonic() - t0
        time.sleep(1.5)  # the gauges are refreshed every second
        text = metrics(http)
        peak = status(proc.pid, "VmHWM")
        held = status(proc.pid, "VmRSS")
        return {
            "baseline_mib": base / MIB,
            "peak_mib": peak / MIB,
            "held_mib": held / MIB,
            "growth_mib": (peak - base) / MIB,
            "sent_fully": sent,
            "seconds": elapsed,
            "buffered_peak_mib": sample(text, "qframe_buffered_peak_bytes") / MIB,
            "discarded": sample(text, "qframe_dropped_total", reason="buffer_budget"),
        }
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


async def _attack(port: int, conns: int, data: bytes, pid: int) -> int:
    sent = await hold(port, conns, data)
    await asyncio.sleep(1.0)  # the daemon reads what is in flight
    await release()
    return sent


def main() -> int:
    conns = int(os.environ.get("BENCH_UNF_CONNS", 200))
    kib = int(os.environ.get("BENCH_UNF_KIB", 1000))
    budget = int(os.environ.get("BENCH_UNF_BUDGET_MIB", 32)) * MIB
    runs = [
        ("tcp", conns, kib << 10, budget, f"{conns} conns x {kib} KiB, no newline"),
        ("gelf", 60, 7 * MIB, None, "60 GELF-TCP conns x 7 MiB, no NUL, default budget"),
    ]
    for kind, n, size, b, what in runs:
        r = scenario(kind, n, size, b)
        print(
            json.dumps({"scenario": kind, **{k: round(v, 1) for k, v in r.items()}}),
            file=sys.stderr,
        )
        budget_mib = (b or 64 * MIB) / MIB
        report(
            f"unfinished_{kind}",
            "peak_rss_growth_mib",
            r["growth_mib"],
            "MiB",
            f"{what}; budget {budget_mib:.0f} MiB; baseline {r['baseline_mib']:.0f} MiB, "
            f"peak {r['peak_mib']:.0f} MiB; qframe's own peak {r['buffered_peak_mib']:.1f} MiB; "
            f"{r['discarded']:.0f} unfinished discarded",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
