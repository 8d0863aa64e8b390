"""deploy/qframe.service (issue #16): systemd-analyze verify, and the notify protocol.

systemd is not PID 1 here: the test plays its part, binding a datagram socket as
``$NOTIFY_SOCKET`` and reading what ``qframe run`` (the unit's ExecStart) sends.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qframe.runtime.sdnotify import Notifier
from tests.services import free_port, unavailable

from .conftest import ROOT, readme_block

UNIT = ROOT / "deploy" / "qframe.service"


def unit_settings() -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            got.setdefault(k, []).append(v)
    return got


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        unavailable("systemd-analyze is not installed")
    qframe = Path(sys.executable).parent / "qframe"
    text = UNIT.read_text().replace("/opt/qframe/bin/qframe", str(qframe))
    unit = tmp_path / "qframe.service"
    unit.write_text(text)
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # it exits 0 on an unknown key or a bad Type=: what it prints is the verdict
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and out == "", out


def test_the_unit_declares_what_the_daemon_does() -> None:
    block = readme_block("tests/integration/deploy/test_systemd.py")
    assert "install -m 644 deploy/qframe.service /etc/systemd/system/qframe.service" in block
    assert "/etc/qframe/qframe.yml" in block  # the ExecStart's config
    s = unit_settings()
    assert s["Type"] == ["notify"]  # systemd 252 (Debian 12) has no notify-reload
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["StateDirectory"] == ["qframe"]
    assert s["Environment"] == ["QFRAME_DATA_DIR=/var/lib/qframe"]
    assert float(s["TimeoutStopSec"][0].rstrip("s")) > 30  # qframe's shutdown-timeout
    assert s["NoNewPrivileges"] == ["yes"] and s["ProtectSystem"] == ["strict"]
    assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert shlex.split(s["ExecStart"][0])[1:] == ["run", "-c", "/etc/qframe/qframe.yml"]


def _recv(sock: socket.socket, want: str, seen: list[str]) -> None:
    """Read datagrams until one carries ``want`` (each recorded in ``seen``)."""
    while True:
        msg = sock.recv(4096).decode()
        seen.append(msg)
        if want in msg.split("\n"):
            return


@pytest.mark.timeout(120)
def test_ready_watchdog_reloading_and_stopping_reach_the_notify_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(
        "data-dir: ${QFRAME_DATA_DIR}\n"
        f"http: 127.0.0.1:{free_port()}\n"
        "tick: 1h\n"  # the watchdog does not wait for a tick
        f"collector:\n  tcp: {{bind-host: 127.0.0.1, bind-port: {free_port()}}}\n"
        "handler:\n  log: {inputs: [tcp]}\n"
    )
    env = {
        **os.environ,
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "200000",
        "QFRAME_DATA_DIR": str(tmp_path / "state"),
    }
    qframe = Path(sys.executable).parent / "qframe"
    p = subprocess.Popen([str(qframe), "run", "-c", str(cfg)], env=env, stdout=subprocess.DEVNULL)
    seen: list[str] = []
    try:
        _recv(sock, "READY=1", seen)
        assert any(line.startswith("STATUS=running") for line in seen[-1].split("\n"))
        _recv(sock, "WATCHDOG=1", seen)
        _recv(sock, "WATCHDOG=1", seen)  # again: every WATCHDOG_USEC/2
        p.send_signal(signal.SIGHUP)  # ExecReload
        _recv(sock, "RELOADING=1", seen)
        assert any(ln.startswith("MONOTONIC_USEC=") for ln in seen[-1].split("\n"))
        _recv(sock, "READY=1", seen)
        p.send_signal(signal.SIGTERM)
        _recv(sock, "STOPPING=1", seen)
        assert p.wait(60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        sock.close()
    states = [m.split("\n")[0] for m in seen if not m.startswith("WATCHDOG")]
    assert states == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]


def test_the_notifier_follows_the_environment(tmp_path: Path) -> None:
    assert not Notifier({}).enabled
    assert Notifier({}).send("READY=1") is False
    # an abstract socket name
    assert Notifier({"NOTIFY_SOCKET": "@qframe-test"}).address == "\0qframe-test"
    # the watchdog is another process's (WATCHDOG_PID): not ours to keep
    n = Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert n.watchdog_s is None
    n = Notifier(
        {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    )
    assert n.watchdog_s == 1.0
    # a socket that is gone: logged, not raised
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).send("READY=1") is False
