"""The network collectors in a real ``qframe run`` process, found through their entry points."""

from __future__ import annotations

import gzip
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.services import free_port, require_binary

QFRAME = str(Path(sys.executable).with_name("qframe"))


def lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.endswith(b"}")]


def poll_until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """A blocking wait for a condition (this test drives a separate process)."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def test_qframe_run_serves_tcp_and_gelf_into_a_json_log_and_exits_cleanly(
    tmp_path: Path,
) -> None:
    socat = require_binary("socat")
    tcp, gelf = free_port(), free_port(socket.SOCK_DGRAM)
    out = tmp_path / "out.json"
    conf = tmp_path / "qframe.yml"
    conf.write_text(
        f"""log: {{level: info}}
data-dir: {tmp_path / "data"}
collector:
  tcp: {{bind-host: 127.0.0.1, bind-port: {tcp}}}
  gelf: {{bind-host: 127.0.0.1, port: {gelf}}}
handler:
  out: {{kind: log, inputs: [tcp, gelf], format: json, path: "{out}"}}
"""
    )
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        poll_until(lambda: listening(tcp) or proc.poll() is not None, 20, "qframe to listen")
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        sent = subprocess.run(
            [socat, "-u", "-", f"TCP:127.0.0.1:{tcp}"],
            input=b"".join(b"tcp line %d\n" % i for i in range(500)),
            check=True,
        )
        assert sent.returncode == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(100):
                payload = {"short_message": f"gelf {i}", "_container_id": "ab" * 32}
                s.sendto(gzip.compress(orjson.dumps(payload)), ("127.0.0.1", gelf))
        poll_until(lambda: len(lines(out)) == 600, 20, "600 lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    assert code == 0
    got = lines(out)
    tcp_lines = [d for d in got if d["source_path"] == ["tcp", "out"]]
    gelf_lines = [d for d in got if d["source_path"] == ["gelf", "out"]]
    assert [d["message"] for d in tcp_lines] == [f"tcp line {i}" for i in range(500)]
    assert all(d["fields"]["remote_ip"] == "127.0.0.1" for d in tcp_lines)  # type: ignore[index]
    assert sorted(d["message"] for d in gelf_lines) == sorted(f"gelf {i}" for i in range(100))  # type: ignore[type-var]
    assert all(d["container"] == {"id": "ab" * 32} for d in gelf_lines)
