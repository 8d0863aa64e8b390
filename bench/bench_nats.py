"""stdin → nats (agent) → JetStream → nats → log json file (aggregator), end to end.

One local JetStream node on the same machine; the stream is created first, with the settings
the agent would give it (as in production, where it exists once any agent ran: an aggregator
started before it retries its set-up after 1 s, 2 s …, and the bench measured that wait),
then the aggregator is started, then the agent reads 1,000,000 Apache lines from stdin.  Reported: end-to-end
lines/s (agent start to the last line in the aggregator's file), and the ratio to
qframe's own ``stdin → log`` (json file) measured in the same run, rounds alternating:

- ``ratio_to_stdin_log`` (wall): the baseline's seconds / the end-to-end seconds;
- ``ratio_to_stdin_log_per_cpu_s``: the baseline's CPU seconds / the agent's and the
  aggregator's (user + system, start-up included, from ``wait4``), for the same lines;
- ``ratio_to_stdin_log_per_cpu_s_with_server``: the same with nats-server's CPU seconds
  during the round added (from ``/proc``): the whole cost of the topology on one host.

Each is the median of the rounds.  Per CPU-second is what a loaded machine distorts least.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QFRAME, apache_file, bench_lines, count_lines, report, run_measured

BASELINE = """\
log: {level: warn}
data-dir: %(dir)s/data-base
collector:
  stdin: {}
handler:
  log: {inputs: [stdin], format: json, path: %(dir)s/base.json}
"""

AGENT = """\
log: {level: warn}
data-dir: %(dir)s/data-agent
collector:
  stdin: {}
handler:
  bus: {inputs: [stdin], kind: nats, url: "%(url)s", stream: %(stream)s,
        subject: "%(subject)s.logs", stream-subjects: ["%(subject)s.>"],
        compression: %(codec)s}
"""

AGGREGATOR = """\
log: {level: warn}
data-dir: %(dir)s/data-aggregator
collector:
  bus: {kind: nats, url: "%(url)s", stream: %(stream)s, durable: bench}
handler:
  log: {inputs: [bus], format: json, path: %(out)s}
"""


#: earlier measurements of this bench, printed beside this run's for comparison
#: (docs/design-notes.md, "The broker": what changed between them)
REFERENCE_NOTE = (
    "measured 2026-12-06 07:19 on the shared 2-core VM, load average 0.8-1.5, 1M lines, median "
    "of 3 rounds, the stream created first; the code before and after the morning's changes "
    "(batch-size 4000, ids encoded in one string, ids decoded by one format, 1 MiB reads, the "
    "next pull sent ahead), two runs each, alternating: the first of each (the second: before "
    "522k lines/s, 0.40 × wall, 0.30 × per CPU-s; after 661k, 0.51 ×, 0.35 ×)"
)
REFERENCE = [
    ("before_lines_per_s", 575_194.0, "lines/s"),
    ("before_ratio_to_stdin_log", 0.43, "×"),
    ("before_agent_and_aggregator_cpu_s", 2.38, "CPU-s"),
    ("before_ratio_to_stdin_log_per_cpu_s", 0.32, "×"),
    ("before_ratio_to_stdin_log_per_cpu_s_with_server", 0.27, "×"),
    ("after_lines_per_s", 647_750.0, "lines/s"),
    ("after_ratio_to_stdin_log", 0.49, "×"),
    ("after_agent_and_aggregator_cpu_s", 2.19, "CPU-s"),
    ("after_ratio_to_stdin_log_per_cpu_s", 0.34, "×"),
    ("after_ratio_to_stdin_log_per_cpu_s_with_server", 0.29, "×"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nats(d: Path) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("nats-server")
    if exe is None:
        raise SystemExit("nats-server is not installed (make services)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(d / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("nats-server did not start")


def create_stream(url: str, stream: str, subject: str) -> None:
    """The stream as the agent's ``nats`` handler creates it (its defaults)."""
    import asyncio

    import nats
    from nats.js import api

    async def create() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().add_stream(
                api.StreamConfig(
                    name=stream,
                    subjects=[f"{subject}.>"],
                    num_replicas=1,
                    max_bytes=-1,
                    max_age=0,
                    discard=api.DiscardPolicy.NEW,
                    duplicate_window=600.0,
                    storage=api.StorageType.FILE,
                )
            )
        finally:
            await nc.close()

    asyncio.run(create())


class Tail:
    """Counts the lines of a growing file, reading only what is new."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                while chunk := f.read(1 << 20):
                    self.lines += chunk.count(b"\n")
                    self.offset += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines


def baseline(data: Path, d: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``stdin → log``."""
    cfg = d / "base.yml"
    cfg.write_text(BASELINE % {"dir": d})
    with open(data, "rb") as stdin:
        dt, cpu, _, rc = run_measured([QFRAME, "run", "-c", str(cfg)], stdin=stdin)
    if rc != 0:
        raise SystemExit(f"qframe (baseline) exited {rc}")
    (d / "base.json").unlink()
    return dt, cpu


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(proc: subprocess.Popen[bytes]) -> float:
    """Wait for a child; its CPU seconds (user + system)."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def through_nats(
    data: Path, d: Path, url: str, n: int, codec: str, k: int
) -> tuple[float, float, float, float]:
    """(end-to-end seconds, agent seconds, CPU seconds of agent and aggregator, CPU
    seconds of agent and aggregator) of one run on a stream of its own."""
    stream, subject = f"BENCH{k}", f"bench{k}"
    out = d / f"out{k}.json"
    env = {"dir": d, "url": url, "stream": stream, "subject": subject, "codec": codec, "out": out}
    (d / "agent.yml").write_text(AGENT % env)
    (d / "aggregator.yml").write_text(AGGREGATOR % env)
    for sub in ("data-agent", "data-aggregator"):
        shutil.rmtree(d / sub, ignore_errors=True)
    create_stream(url, stream, subject)
    agg = subprocess.Popen([QFRAME, "run", "-c", str(d / "aggregator.yml")])
    try:
        tail = Tail(out)
        t0 = time.perf_counter()
        with open(data, "rb") as stdin:
            agent = subprocess.Popen([QFRAME, "run", "-c", str(d / "agent.yml")], stdin=stdin)
        agent_dt = 0.0
        cpu = agent_cpu = 0.0
        deadline = t0 + 600
        while tail.poll() < n:
            if agent_dt == 0.0 and os.waitid(
                os.P_PID, agent.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT
            ):
                agent_dt = time.perf_counter() - t0
                agent_cpu = cpu_of(agent)
                if agent.returncode != 0:
                    raise SystemExit(f"agent exited {agent.returncode}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {tail.lines} of {n} lines arrived")
            time.sleep(0.02)
        dt = time.perf_counter() - t0
        if agent_dt == 0.0:
            agent_dt = dt
            agent_cpu = cpu_of(agent)
    finally:
        agg.terminate()
        cpu = cpu_of(agg)
    got = count_lines(out)
    if got != n:
        raise SystemExit(f"{got} lines arrived, {n} sent")
    out.unlink()
    return dt, agent_dt, agent_cpu, cpu


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    n = bench_lines()
    data = apache_file(n)
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    codec = os.environ.get("BENCH_NATS_COMPRESSION", "none")
    base: list[float] = []
    base_cpu: list[float] = []
    e2e: list[float] = []
    agent: list[float] = []
    agent_cpu: list[float] = []
    agg_cpu: list[float] = []
    server_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        nats, url = start_nats(d)
        try:
            for k in range(rounds):  # alternating, so both see the machine's swings alike
                bdt, bcpu = baseline(data, d)
                base.append(bdt)
                base_cpu.append(bcpu)
                before = proc_cpu(nats.pid)
                dt, adt, acpu, gcpu = through_nats(data, d, url, n, codec, k)
                server_cpu.append(proc_cpu(nats.pid) - before)
                e2e.append(dt)
                agent.append(adt)
                agent_cpu.append(acpu)
                agg_cpu.append(gcpu)
        finally:
            nats.terminate()
            nats.wait(30)
    load = os.getloadavg()[0]
    note = (
        f"{n} Apache lines; agent stdin → nats, aggregator nats → log json file, one local "
        f"JetStream node, all on the same cores; compression {codec}; median of {rounds} "
        f"alternating rounds; load average {load:.1f} at the end"
    )
    bench = "nats stdin→nats→log"
    e, b = median(e2e), median(base)
    report(bench, "lines_per_s", n / e, "lines/s", note)
    report(bench, "agent_lines_per_s", n / median(agent), "lines/s", note)
    report(bench, "baseline_stdin_log_lines_per_s", n / b, "lines/s", note)
    report(
        bench,
        "ratio_to_stdin_log",
        median([x / y for x, y in zip(base, e2e, strict=True)]),
        "×",
        note + "; wall: baseline seconds / end-to-end seconds",
    )
    both = [a + g for a, g in zip(agent_cpu, agg_cpu, strict=True)]
    everything = [x + s for x, s in zip(both, server_cpu, strict=True)]
    report(bench, "agent_cpu_s", median(agent_cpu), "CPU-s", note)
    report(bench, "aggregator_cpu_s", median(agg_cpu), "CPU-s", note)
    report(bench, "nats_server_cpu_s", median(server_cpu), "CPU-s", note)
    report(bench, "baseline_cpu_s", median(base_cpu), "CPU-s", note)
    report(bench, "lines_per_cpu_s_agent_and_aggregator", n / median(both), "lines/CPU-s", note)
    report(bench, "baseline_lines_per_cpu_s", n / median(base_cpu), "lines/CPU-s", note)
    report(
        bench,
        "ratio_to_stdin_log_per_cpu_s",
        median([x / y for x, y in zip(base_cpu, both, strict=True)]),
        "×",
        note + "; baseline CPU-s / (agent + aggregator CPU-s), start-ups included",
    )
    report(
        bench,
        "ratio_to_stdin_log_per_cpu_s_with_server",
        median([x / y for x, y in zip(base_cpu, everything, strict=True)]),
        "×",
        note + "; baseline CPU-s / (agent + aggregator + nats-server CPU-s)",
    )
    for metric, value, unit in REFERENCE:
        report(bench, f"reference_{metric}", value, unit, REFERENCE_NOTE)


if __name__ == "__main__":
    main()
