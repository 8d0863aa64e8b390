"""tcp and gelf with their work shared by worker processes (``workers: N``, issue #14).

A real ``qframe run`` with ``workers: 2`` or ``4`` on the collector: the kernel spreads
connections over the workers' sockets (``SO_REUSEPORT``); the lines of 8 connections
arrive exactly once, each connection's in order. A worker SIGKILLed mid-stream: its
connections are reset (what a client sees), the others go on, the worker is started
again and serves new connections; nothing arrives twice. A reload that changes the
number of workers keeps the port. GELF over UDP: each sender's chunks meet in one
process. Every wait is on a condition (lines in the output, a worker in /health).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from qframe.testing import metric_value, read_metrics
from tests.integration.network.test_reload import Daemon, lines, poll_until
from tests.services import free_port

WAIT = 120.0  # generous: the machine may be loaded


def config(tmp: Path, out: Path, tcp: int, http: int, workers: int, extra: str = "") -> str:
    return f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp / "data"}
collector:
  tcp: {{bind-host: 127.0.0.1, bind-port: {tcp}, workers: {workers}{extra}}}
handler:
  out: {{kind: log, inputs: [tcp], format: json, path: "{out}"}}
"""


def health(http: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/health", timeout=5) as r:
            return dict(json.loads(r.read()))
    except OSError:
        return {}


def workers_of(http: int, plugin: str) -> list[dict[str, Any]]:
    for p in health(http).get("plugins", []):
        if p["plugin"] == plugin:
            return list(p.get("workers") or [])
    return []


def all_alive(http: int, plugin: str, n: int) -> bool:
    ws = workers_of(http, plugin)
    return len(ws) == n and all(w["alive"] for w in ws)


def send_all(port: int, conns: int, per: int) -> None:
    """``conns`` connections at once, each ``per`` numbered lines, then closed."""

    def one(c: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"".join(b"c%d %d\n" % (c, i) for i in range(per)))

    threads = [threading.Thread(target=one, args=(c,)) for c in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)


def by_source(got: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for text in got:
        src, n = text.split()
        out.setdefault(src, []).append(int(n))
    return out


@pytest.mark.parametrize("workers", [2, 4])
def test_eight_connections_arrive_exactly_once_in_order(tmp_path: Path, workers: int) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, workers))
    try:
        poll_until(lambda: "pipeline started" in d.stderr, WAIT, "qframe to start")
        poll_until(lambda: all_alive(http, "tcp", workers), WAIT, "the workers in /health")
        pids = {w["pid"] for w in workers_of(http, "tcp")}
        assert len(pids) == workers and os.getpid() not in pids
        send_all(tcp, 8, 5000)
        poll_until(lambda: len(lines(out)) >= 40_000, WAIT, "40,000 lines")
        got = by_source(lines(out))
        assert sorted(got) == [f"c{c}" for c in range(8)]
        for seq in got.values():
            assert seq == list(range(5000))  # each once, in the connection's order
        # the workers' counters reach the main process's /metrics
        poll_until(
            lambda: metric_value(read_metrics(http, timeout=5), "qframe_connections_total") == 8,
            WAIT,
            "the connections counted",
        )
        assert metric_value(read_metrics(http, timeout=5), "qframe_worker_rss_bytes") > 0
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    assert "worker processes ended" in d.stderr
    for pid in pids:  # the workers ended with it
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"collector_worker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )


class Writer(threading.Thread):
    """Numbered lines over one connection until stopped or reset."""

    def __init__(self, port: int, name: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.name_ = name
        self.sent = 0
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                n = self.sent
                self.sock.sendall(
                    b"".join(b"%s %d\n" % (self.name_.encode(), i) for i in range(n, n + 50))
                )
                self.sent = n + 50
                self.halt.wait(0.005)
        except OSError as exc:
            self.error = exc
        finally:
            self.sock.close()


def test_a_worker_killed_mid_stream_resets_its_connections_and_comes_back(tmp_path: Path) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, 2))
    writers: list[Writer] = []
    try:
        poll_until(lambda: all_alive(http, "tcp", 2), WAIT, "the workers in /health")
        # 16: the kernel gives the victim some (all 16 on the other: 1 in 65,536)
        writers = [Writer(tcp, f"w{i}") for i in range(16)]
        for w in writers:
            w.start()
        poll_until(lambda: len(lines(out)) > 2000, WAIT, "lines to flow")
        victim = workers_of(http, "tcp")[0]
        os.kill(victim["pid"], signal.SIGKILL)
        poll_until(
            lambda: any(w["restarts"] == 1 and w["alive"] for w in workers_of(http, "tcp")),
            WAIT,
            "the worker started again",
        )
        assert "died (signal 9)" in d.stderr
        for w in writers:
            w.halt.set()
            w.join(WAIT)
        # what its clients see: the connection reset under them (the others go on)
        hit = [w for w in writers if w.error is not None]
        survivors = [w for w in writers if w.error is None]
        assert hit, "no client saw the reset"
        # a new connection is served (by either worker)
        send_all(tcp, 4, 100)

        def arrived() -> bool:
            got = by_source(lines(out))
            return all(len(got.get(w.name_, [])) >= w.sent for w in survivors) and all(
                len(got.get(f"c{c}", [])) >= 100 for c in range(4)
            )

        poll_until(arrived, WAIT, "the survivors' and the new connections' lines")
        got = by_source(lines(out))
        for w in writers:
            seq = got.get(w.name_, [])
            # never twice, never out of order: a prefix of what was sent (the killed
            # worker's connections lose what it had read and not passed on)
            assert seq == list(range(len(seq)))
        for w in survivors:
            assert len(got[w.name_]) == w.sent
        for c in range(4):
            assert got[f"c{c}"] == list(range(100))
        text = read_metrics(http, timeout=5)
        assert metric_value(text, "qframe_worker_restarts_total", plugin="tcp") == 1
    finally:
        for w in writers:
            w.halt.set()
        code = d.stop()
    assert code == 0, d.stderr


def test_a_reload_changes_the_number_of_workers_on_the_same_port(tmp_path: Path) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, 2))
    try:
        poll_until(lambda: all_alive(http, "tcp", 2), WAIT, "2 workers")
        send_all(tcp, 8, 1000)
        poll_until(lambda: len(lines(out)) >= 8000, WAIT, "8,000 lines")
        old = {w["pid"] for w in workers_of(http, "tcp")}
        d.reload(config(tmp_path, out, tcp, http, 3))
        poll_until(lambda: all_alive(http, "tcp", 3), WAIT, "3 workers")
        assert not old & {w["pid"] for w in workers_of(http, "tcp")}
        # unchanged: the collector and its workers keep running
        d.reload(config(tmp_path, out, tcp, http, 3) + "\n")
        assert "1 kept running: collector.tcp" in d.stderr
        send_all(tcp, 8, 1000)
        poll_until(lambda: len(lines(out)) >= 16_000, WAIT, "16,000 lines")
        got = by_source(lines(out))
        for c in range(8):
            assert got[f"c{c}"] == list(range(1000)) * 2  # each connection once, in order
    finally:
        code = d.stop()
    assert code == 0, d.stderr


def gelf_config(tmp_path: Path, port: int, http: int, protocol: str, more: str = "") -> str:
    """A daemon's config: a gelf collector with 2 workers (``more``: its further options,
    each after ", ") → log json ``tmp_path/out.json``, metrics on ``http``."""
    return f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp_path / "data"}
collector:
  gelf: {{bind-host: 127.0.0.1, port: {port}, protocol: {protocol}, workers: 2{more}}}
handler:
  out: {{kind: log, inputs: [gelf], format: json, path: "{tmp_path / "out.json"}"}}
"""


def test_gelf_udp_chunks_of_a_sender_meet_in_one_worker(tmp_path: Path) -> None:
    udp, http = free_port(socket.SOCK_DGRAM), free_port()
    out = tmp_path / "out.json"
    text = gelf_config(tmp_path, udp, http, "udp")
    d = Daemon(tmp_path, text)
    try:
        poll_until(lambda: all_alive(http, "gelf", 2), WAIT, "2 workers")
        senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
        per = 50
        for i in range(per):
            for s_idx, s in enumerate(senders):
                body = orjson.dumps(
                    {"version": "1.1", "host": "h", "short_message": f"s{s_idx} {i} " + "x" * 2500}
                )
                # chunked: 3 chunks of one message id, from the sender's own port
                mid = os.urandom(8)
                parts = [body[k : k + 1000] for k in range(0, len(body), 1000)]
                assert len(parts) == 3
                for seq, part in enumerate(parts):
                    s.sendto(
                        b"\x1e\x0f" + mid + bytes([seq, len(parts)]) + part, ("127.0.0.1", udp)
                    )
            # (UDP: what the kernel's buffer cannot hold is lost; one round at a time)
            need = (i + 1) * 8
            poll_until(lambda n=need: len(lines(out)) >= n, WAIT, f"{need} messages")
        poll_until(lambda: len(lines(out)) >= per * 8, WAIT, "every message")
        got = by_source([" ".join(x.split()[:2]) for x in lines(out)])
        for s_idx in range(8):
            assert got[f"s{s_idx}"] == list(range(per))
        for s in senders:
            s.close()
    finally:
        code = d.stop()
    assert code == 0, d.stderr


def test_workers_on_a_collector_that_cannot_share_is_a_config_error(tmp_path: Path) -> None:
    import subprocess

    from tests.integration.network.test_reload import QFRAME

    cfg = tmp_path / "p.yml"
    cfg.write_text(
        "collector:\n  tcp: {workers: 2, inventory: inv}\n  stdin: {workers: 3}\n"
        "filter: {inv: {kind: inventory, inputs: [stdin]}}\n"
        "handler: {log: {inputs: [tcp, stdin]}}\n"
    )
    res = subprocess.run([QFRAME, "run", "-c", str(cfg)], capture_output=True, timeout=60)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "p.yml" in err
    assert "collector.tcp.workers: inventory lookups go through the Back channel" in err
    assert "collector.stdin.workers: only the tcp, gelf and file collectors" in err
    cfg.write_text("collector: {file: {path: /x, workers: 0}}\nhandler: {log: {inputs: [file]}}\n")
    res = subprocess.run([QFRAME, "run", "-c", str(cfg)], capture_output=True, timeout=60)
    assert res.returncode == 2
    assert "collector.file.workers" in res.stderr.decode()


def test_a_reload_moves_the_collector_into_workers_and_back(tmp_path: Path) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, 1))
    try:
        poll_until(lambda: "pipeline started" in d.stderr, WAIT, "qframe to start")
        send_all(tcp, 4, 100)
        poll_until(lambda: len(lines(out)) >= 400, WAIT, "400 lines")
        d.reload(config(tmp_path, out, tcp, http, 2))  # the same port, now in 2 workers
        poll_until(lambda: all_alive(http, "tcp", 2), WAIT, "2 workers")
        send_all(tcp, 4, 100)
        poll_until(lambda: len(lines(out)) >= 800, WAIT, "800 lines")
        d.reload(config(tmp_path, out, tcp, http, 1))  # and back into the main process
        poll_until(lambda: "worker processes ended" in d.stderr, WAIT, "the workers to end")
        send_all(tcp, 4, 100)
        poll_until(lambda: len(lines(out)) >= 1200, WAIT, "1,200 lines")
        assert workers_of(http, "tcp") == []
        got = by_source(lines(out))
        for c in range(4):
            assert got[f"c{c}"] == list(range(100)) * 3
    finally:
        code = d.stop()
    assert code == 0, d.stderr
