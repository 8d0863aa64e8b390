"""SIGHUP reloads of a real ``qframe run`` lose nothing a tcp sender wrote (issue #21).

A sender writes continuously over one long-lived connection while the config is reloaded
several times: once changing only a handler's ``queue-size`` (the tcp collector keeps
running), once changing the tcp collector's own options but not its address (the new
instance takes the listening socket and the connection over), once back.  Every line
arrives exactly once and in order, and the sender's connection is never closed.  Moving
the collector to another port cannot keep the connection: it is closed, counted and logged.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from qframe.testing import metric_value, read_metrics
from tests.services import free_port

QFRAME = str(Path(sys.executable).with_name("qframe"))


def lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [orjson.loads(x)["message"] for x in path.read_bytes().splitlines() if x.endswith(b"}")]


def poll_until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def config(tmp: Path, out: Path, tcp: int, http: int, queue_size: int, line_bytes: str) -> str:
    return f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp / "data"}
collector:
  tcp: {{bind-host: 127.0.0.1, bind-port: {tcp}, max-line-bytes: {line_bytes}}}
filter:
  id: {{inputs: [tcp]}}
handler:
  out: {{kind: log, inputs: [id], format: json, path: "{out}", queue-size: {queue_size}}}
"""


class Daemon:
    """``qframe run`` with a config file, its stderr collected, SIGHUP on demand."""

    def __init__(self, tmp: Path, text: str) -> None:
        self.conf = tmp / "qframe.yml"
        self.conf.write_text(text)
        self.proc = subprocess.Popen(
            [QFRAME, "run", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        os.set_blocking(self.proc.stderr.fileno(), False)
        self._err = b""

    @property
    def stderr(self) -> str:
        chunk = self.proc.stderr.read()  # type: ignore[union-attr]
        if chunk:
            self._err += chunk
        return self._err.decode(errors="replace")

    def reload(self, text: str) -> None:
        done = self.stderr.count("reloaded:")
        self.conf.write_text(text)
        self.proc.send_signal(signal.SIGHUP)
        poll_until(lambda: self.stderr.count("reloaded:") > done, 30, "the reload")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self.proc.kill()


class Sender(threading.Thread):
    """Writes numbered lines over one connection until stopped (blocking: backpressure)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sent = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                n = self.sent
                self.sock.sendall(b"".join(b"line %d\n" % i for i in range(n, n + 20)))
                self.sent = n + 20
                time.sleep(0.002)
        except OSError as exc:
            self.error = exc

    def finish(self) -> None:
        self._halt.set()
        self.join(10)

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # open: nothing to read, no end of stream
        except OSError:
            return True


def test_reloads_keep_the_tcp_connection_and_lose_no_line(tmp_path: Path) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, 10_000, "1MiB"))
    sender: Sender | None = None
    try:
        poll_until(lambda: "pipeline started" in d.stderr, 20, "qframe to start")
        sender = Sender(tcp)
        sender.start()
        progress = 0

        def more_lines() -> None:
            nonlocal progress
            seen = progress
            poll_until(lambda: len(lines(out)) > seen + 200, 20, "lines to keep flowing")
            progress = len(lines(out))

        more_lines()
        # only a handler's option changes: the tcp collector keeps running
        d.reload(config(tmp_path, out, tcp, http, 500, "1MiB"))
        assert "1 kept running: collector.tcp" in d.stderr
        more_lines()
        # the collector's own options change, not its address: the socket is handed over
        d.reload(config(tmp_path, out, tcp, http, 500, "64KiB"))
        poll_until(
            lambda: "took over the listening socket and 1 open connection(s)" in d.stderr,
            10,
            "the handover",
        )
        more_lines()
        d.reload(config(tmp_path, out, tcp, http, 10_000, "1MiB"))
        more_lines()
        sender.finish()
        assert sender.error is None, sender.error
        assert not sender.closed_by_peer()
        poll_until(lambda: len(lines(out)) >= sender.sent, 30, f"{sender.sent} lines")
        got = lines(out)
        assert got == [f"line {i}" for i in range(sender.sent)]  # each once, in order
        text = read_metrics(http, timeout=5)
        assert metric_value(text, "qframe_closed_connections_total") == 0
        # never reconnected
        assert metric_value(text, "qframe_connections_total", plugin="tcp") == 1
    finally:
        try:
            if sender is not None:
                sender.finish()
                sender.sock.close()
        finally:
            code = d.stop()
    assert code == 0, d.stderr


def test_a_reload_that_moves_the_port_closes_the_connection_and_counts_it(
    tmp_path: Path,
) -> None:
    tcp, other, http = free_port(), free_port(), free_port()
    out = tmp_path / "out.json"
    d = Daemon(tmp_path, config(tmp_path, out, tcp, http, 10_000, "1MiB"))
    try:
        poll_until(lambda: "pipeline started" in d.stderr, 20, "qframe to start")
        sock = socket.create_connection(("127.0.0.1", tcp))
        sock.sendall(b"before\n")
        poll_until(lambda: lines(out) == ["before"], 20, "the first line")
        d.reload(config(tmp_path, out, other, http, 10_000, "1MiB"))
        sock.settimeout(10)
        assert sock.recv(1) == b""  # closed by qframe
        sock.close()
        assert "reload: closed 1 open connection(s)" in d.stderr
        text = read_metrics(http, timeout=5)
        closed = metric_value(
            text, "qframe_closed_connections_total", plugin="tcp", reason="reload"
        )
        assert closed == 1
        with socket.create_connection(("127.0.0.1", other)) as s:
            s.sendall(b"after\n")
        poll_until(lambda: lines(out) == ["before", "after"], 20, "the line on the new port")
    finally:
        code = d.stop()
    assert code == 0, d.stderr
