"""Network collectors: tcp lines vs rsyslog (imtcp → omfile), and GELF UDP at zero loss.

1. BENCH_LINES (default 1,000,000) Apache lines sent over one TCP connection
   - to ``qframe run`` with ``tcp → log (format: json, file)``,
   - to ``rsyslogd -n`` (its own config, work dir and pid file in a temp dir) with
     ``imtcp → omfile``, in three output formats: its default file format, a JSON line
     (timestamp, sender, message: the closest to qframe's output) and the raw line;
   lines/s = lines / (time from the first byte sent until the last line is in the file),
   median of BENCH_ROUNDS (default 5) alternating runs; also lines per CPU-second of the
   receiving process (rsyslog: all its threads), which the machine's load disturbs less.
2. GELF over UDP to ``qframe run`` with ``gelf → log``: bursts of BENCH_GELF messages at a
   fixed rate, the rate raised while every message arrives; the highest rate with zero
   loss is reported (plus uncompressed vs gzip and chunked throughput).

Prints JSON lines (bench/run.py collects them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import QFRAME, apache_file, bench_lines, report


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class LineCounter:
    """Counts the newlines appended to a file, incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0
        self.pos = 0

    def poll(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                while chunk := f.read(1 << 22):
                    self.n += chunk.count(b"\n")
                    self.pos += len(chunk)
        except FileNotFoundError:
            pass
        return self.n


def send_file(port: int, data: Path) -> float:
    """Send the file over one connection; return the time the first byte left."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    with open(data, "rb") as f:
        s.sendfile(f)
    s.shutdown(socket.SHUT_WR)
    threading.Thread(target=_drain_close, args=(s,), daemon=True).start()
    return t0


def _drain_close(s: socket.socket) -> None:
    try:
        s.settimeout(120)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_run(
    proc: subprocess.Popen[bytes], out: Path, n: int, port: int, data: Path
) -> tuple[float, float]:
    """(lines/s, CPU seconds the receiver used) for sending data until n lines are in out."""
    c0 = cpu_seconds(proc.pid)
    dt = run_until(out, n, port, data)
    return n / dt, cpu_seconds(proc.pid) - c0


def run_until(out: Path, n: int, port: int, data: Path, timeout: float = 300.0) -> float:
    counter = LineCounter(out)
    box: dict[str, float] = {}
    th = threading.Thread(target=lambda: box.setdefault("t0", send_file(port, data)))
    th.start()
    deadline = time.monotonic() + timeout
    while counter.poll() < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counter.n} of {n} lines arrived in {out}")
        time.sleep(0.02)
    t1 = time.perf_counter()
    th.join()
    return t1 - box["t0"]


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_rsyslog() -> str | None:
    path = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
    )
    if path is None and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "rsyslog"], check=False, env=env)
        path = shutil.which("rsyslogd") or (
            "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
        )
    return path


#: rsyslog output formats compared: its default file format (what imtcp → omfile gives
#: out of the box), a JSON line like qframe's, and the raw line (the least work possible)
RSYSLOG_TEMPLATES = {
    "default": "",
    "json": 'template(name="out" type="list") { constant(value="{\\"@timestamp\\":\\"")'
    ' property(name="timegenerated" dateFormat="rfc3339")'
    ' constant(value="\\",\\"host\\":\\"") property(name="fromhost-ip")'
    ' constant(value="\\",\\"message\\":\\"") property(name="rawmsg" format="json")'
    ' constant(value="\\"}\\n") }',
    "raw": 'template(name="out" type="string" string="%rawmsg%\\n")',
}


def bench_rsyslog(
    tmp: Path, data: Path, n: int, variant: str = "default"
) -> tuple[float, float] | None:
    rsyslogd = ensure_rsyslog()
    if rsyslogd is None:
        print("rsyslogd is not installed and could not be installed", file=sys.stderr)
        return None
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="rsyslog-", dir=tmp))
    out = work / "out.log"
    conf = work / "rsyslog.conf"
    conf.write_text(
        f"""global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
{RSYSLOG_TEMPLATES[variant]}
ruleset(name="bench") {{
  action(type="omfile" file="{out}"{' template="out"' if RSYSLOG_TEMPLATES[variant] else ""})
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="bench" supportOctetCountedFraming="off")
"""
    )
    proc = subprocess.Popen(
        [rsyslogd, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "stderr.log", "wb"),
    )
    try:
        wait_port(port)
        return timed_run(proc, out, n, port, data)
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)  # dirty pages dropped, not written back later


def json_lines_file(data: Path, tmp: Path) -> Path:
    """The Apache lines as JSON objects (message plus three fields), one per line."""
    import orjson

    out = tmp / "json-lines.txt"
    with open(data, "rb") as f, open(out, "wb") as o:
        for i, line in enumerate(f):
            rec = {"message": line.rstrip(b"\n").decode(), "app": "web", "status": 200, "n": i}
            o.write(orjson.dumps(rec) + b"\n")
    return out


def bench_qframe_tcp(tmp: Path, data: Path, n: int, fmt: str = "line") -> tuple[float, float]:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="qframe-", dir=tmp))
    out = work / "out.json"
    conf = work / "tcp.yml"
    conf.write_text(
        f"""log: {{level: warn}}
data-dir: {work / "data"}
collector:
  tcp: {{bind-host: 127.0.0.1, bind-port: {port}, format: {fmt}}}
handler:
  out: {{kind: log, inputs: [tcp], format: json, path: "{out}"}}
"""
    )
    proc = subprocess.Popen([QFRAME, "run", "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        return timed_run(proc, out, n, port, data)
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)


SENDER = r"""
import gzip, json, os, socket, sys, time
port, rate, n, kind = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
base = {"version": "1.1", "host": "bench-host", "level": 6, "_container_id": "ab" * 32,
        "_container_name": "/web1", "_image_name": "nginx:1.25", "_image_id": "sha256:" + "cd" * 32,
        "_command": "nginx -g daemon off;", "_created": "2026-11-26T05:00:00Z", "_tag": "web1"}
grams = []
for i in range(1000):
    d = dict(base, short_message=f'10.0.0.{i % 250} - - [26/Nov/2026:05:00:00 +0000] "GET /item/{i} HTTP/1.1" 200 {i * 7}',
             timestamp=time.time())
    raw = json.dumps(d).encode()
    grams.append(gzip.compress(raw) if kind == "gzip" else raw)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
send = s.send
t0 = time.perf_counter()
burst = max(1, int(rate / 1000))
i = 0
while i < n:
    for _ in range(min(burst, n - i)):
        send(grams[i % 1000])
        i += 1
    ahead = i / rate - (time.perf_counter() - t0)
    if ahead > 0:
        time.sleep(ahead)
print(n / (time.perf_counter() - t0))
"""


def gelf_trial(
    port: int, counter: LineCounter, rate: float, n: int, kind: str
) -> tuple[int, float]:
    """Send n datagrams at rate; return (messages lost, rate actually sent)."""
    before = counter.poll()
    res = subprocess.run(
        [sys.executable, "-c", SENDER, str(port), str(rate), str(n), kind],
        capture_output=True,
        text=True,
        check=True,
    )
    sent_rate = float(res.stdout.strip())
    last, still = counter.poll(), time.monotonic()
    while time.monotonic() - still < 1.0 and last - before < n:
        time.sleep(0.05)
        now = counter.poll()
        if now != last:
            last, still = now, time.monotonic()
    return n - (last - before), sent_rate


def gelf_losses(http: int) -> str:
    """Where messages were lost so far, from the daemon's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=5) as r:
        text = r.read().decode()
    keep = ("qframe_dropped_total", "qframe_udp_kernel_drops", "qframe_rejected_total")
    return ", ".join(
        line.replace('plugin="gelf",kind="gelf",type="collector"', "")
        for line in text.splitlines()
        if line.startswith(keep) and 'plugin="gelf"' in line
    )


def gelf_rate_search(tmp: Path, n: int) -> None:
    port = free_port(socket.SOCK_DGRAM)
    http = free_port()
    out = tmp / "qframe-gelf.json"
    conf = tmp / "gelf.yml"
    conf.write_text(
        f"""log: {{level: error}}
http: 127.0.0.1:{http}
data-dir: {tmp / "data-gelf"}
collector:
  gelf: {{bind-host: 127.0.0.1, port: {port}}}
handler:
  out: {{kind: log, inputs: [gelf], format: json, path: "{out}"}}
"""
    )
    proc = subprocess.Popen([QFRAME, "run", "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        counter = LineCounter(out)
        deadline = time.monotonic() + 20
        while counter.poll() == 0:  # wait until it listens: probe with one message
            if time.monotonic() > deadline:
                raise RuntimeError("qframe gelf did not start")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b'{"short_message": "probe"}', ("127.0.0.1", port))
            time.sleep(0.2)
        for kind in ("plain", "gzip"):
            good, bad, sent_at_good = 0.0, 0.0, 0.0
            rate = 10_000.0
            while True:  # double while nothing is lost, then bisect
                lost, sent = gelf_trial(port, counter, rate, n, kind)
                print(
                    f"gelf {kind} {rate:.0f}/s (sent at {sent:.0f}/s): lost {lost};"
                    f" so far {gelf_losses(http)}",
                    file=sys.stderr,
                )
                if lost <= 0 and sent >= 0.9 * rate:
                    good, sent_at_good = rate, sent
                    if bad == 0.0:
                        rate *= 2
                    else:
                        rate = (good + bad) / 2
                else:
                    bad = rate
                    rate = (good + bad) / 2 if good else rate / 2
                if (bad and good and bad - good < 0.1 * good) or rate < 1000 or rate > 2_000_000:
                    break
            report(
                "network",
                f"gelf_udp_{kind}_zero_loss_msgs_per_s",
                sent_at_good,
                "msgs/s",
                f"highest rate with zero loss, {n} Docker-shaped GELF datagrams per trial"
                + (" (gzip)" if kind == "gzip" else " (uncompressed)")
                + f"; first loss at {bad:.0f}/s",
            )
    finally:
        stop(proc)


def main() -> int:
    n = bench_lines()
    rounds = int(os.environ.get("BENCH_ROUNDS", 5))
    data = apache_file(n)
    with tempfile.TemporaryDirectory(prefix="qframe-bench-net-") as t:
        tmp = Path(t)
        q: list[tuple[float, float]] = []
        r: dict[str, list[tuple[float, float]]] = {v: [] for v in RSYSLOG_TEMPLATES}
        for _ in range(rounds):  # alternate, so that all see the same machine load
            q.append(bench_qframe_tcp(tmp, data, n))
            for variant, runs in r.items():
                rs = bench_rsyslog(tmp, data, n, variant)
                if rs is not None:
                    runs.append(rs)
            print(
                f"round: qframe {q[-1]}, rsyslog {[(v, x[-1:]) for v, x in r.items()]}",
                file=sys.stderr,
            )
        qm = statistics.median(x[0] for x in q)
        report(
            "network",
            "tcp_lines_per_s",
            qm,
            "lines/s",
            f"qframe tcp -> log json file, {n} Apache lines, one connection, median of {rounds}",
        )
        report(
            "network",
            "tcp_lines_per_cpu_s",
            n / max(0.01, statistics.median(x[1] for x in q)),
            "lines/cpu-s",
            "qframe tcp -> log json: lines per CPU-second of the daemon (one core)",
        )
        jdata = json_lines_file(data, tmp)
        js = [bench_qframe_tcp(tmp, jdata, n, "json") for _ in range(rounds)]
        report(
            "network",
            "tcp_json_lines_per_s",
            statistics.median(x[0] for x in js),
            "lines/s",
            f"qframe tcp format json (message + 3 fields per line) -> log json, {n} lines,"
            f" one connection, median of {rounds}",
        )
        report(
            "network",
            "tcp_json_lines_per_cpu_s",
            n / max(0.01, statistics.median(x[1] for x in js)),
            "lines/cpu-s",
            "qframe tcp format json -> log json: lines per CPU-second of the daemon",
        )
        for variant, runs in r.items():
            if not runs:
                continue
            rm = statistics.median(x[0] for x in runs)
            report(
                "network",
                f"rsyslog_{variant}_lines_per_s",
                rm,
                "lines/s",
                f"rsyslogd imtcp -> omfile ({variant} format), same {n} lines, same run, median of {len(runs)}",
            )
            report(
                "network",
                f"rsyslog_{variant}_lines_per_cpu_s",
                n / max(0.01, statistics.median(x[1] for x in runs)),
                "lines/cpu-s",
                f"rsyslogd ({variant} format): lines per CPU-second, all its threads",
            )
            report(
                "network",
                f"tcp_vs_rsyslog_{variant}",
                qm / rm,
                "x",
                f"qframe tcp / rsyslog imtcp ({variant} format), lines/s (target >= 1.2)",
            )
        gelf_n = int(os.environ.get("BENCH_GELF", 100_000))  # 0: skip the GELF search
        if gelf_n:
            gelf_rate_search(tmp, gelf_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
