"""Real services for integration tests: each module starts one and stops it afterwards.

A test that needs a service calls :func:`unavailable` when it cannot start it: on a
developer laptop the test is skipped with the reason; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip (laptop) or fail (CI) because a service could not be started."""
    if IN_CI:
        pytest.fail(f"service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make services installs it)")
    assert path is not None
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out to ``bind(0)`` and ``connect`` (both ends included)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def publish_port() -> int:
    """A free loopback TCP port below the ephemeral range, for a container to publish.

    A container engine's port forward on 127.0.0.1 is a DNAT rule (netavark: iptables
    ``nat`` OUTPUT), and it outlives the container for a moment at every stop (the port is
    free again before the teardown removes the rule) — forever when a teardown is lost.  A
    connect to that port meanwhile goes to the gone container's address: ``EHOSTUNREACH``
    after 3 s of ARP (``python -m tests.services.stale_dnat`` shows it).  Every other port
    of the tests (:func:`free_port`, ``bind-port: 0``) is ephemeral: one from outside that
    range is never theirs.
    """
    low, _ = ephemeral_range()
    lo = min(20000, max(1024, low - 2000))
    for _ in range(100):
        port = random.randrange(lo, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise OSError(f"no free port in {lo}-{low - 1}")


def http_answers(url: str, status: int = 200, timeout: float = 1.0) -> bool:
    """True when ``GET url`` answers with ``status``."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bool(r.status == status)
    except (OSError, urllib.error.URLError):
        return False


def spawn_until_ready(
    cmd: list[str], ready: Callable[[], bool], timeout: float, log: Any = subprocess.DEVNULL
) -> subprocess.Popen[bytes] | None:
    """Start ``cmd`` and wait until ``ready()``; None (process stopped) when it exits or times out."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        if ready():
            return proc
        time.sleep(0.05)
    terminate(proc)
    return None


def terminate(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
