"""Shows what a container's port forward does to loopback connects after the container stops.

``python -m tests.services.stale_dnat [ROUNDS]`` (root, podman): a busybox httpd publishes
127.0.0.1:P on Podman's default bridge network, P an *ephemeral* port as the tests chose it
before (:func:`~tests.services.free_port`); another container keeps the bridge up, as the
containers of other tests do.  At ``podman stop`` the port is free again (conmon held it)
a second or more before netavark's teardown removes the DNAT rule for it.  A process that
takes P in between (as a test's ``bind-port: 0`` or ``free_port()`` may: they draw from the
same range) listens, yet a connect to 127.0.0.1:P goes to the stopped container's address:
``EHOSTUNREACH`` after 3 s of ARP (or no answer at all, while the address is still in the
neighbour cache; ECONNREFUSED before that, while its network namespace is there).  The full suite's ``test_over_long_lines_are_cut_tagged_and_counted_in_metrics``
failed so once (errno 113 on a connect to 127.0.0.1).

Hence :func:`~tests.services.publish_port`: a port a test publishes lies below the ephemeral
range, where the kernel puts no ``bind(0)`` and no connect.  Prints, each round, what the
connects got while the rule was left; exits 0 when one of them failed though the port had a
listener.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import threading
import time

from . import free_port
from .podman import PodmanService


def has_rule(port: int) -> bool:
    out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    return f"--dport {port} " in out


def take_then_connect(port: int, got: list[str]) -> None:
    """Bind ``port`` as soon as it is free, then connect to it while a DNAT rule names it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        srv = socket.socket()
        try:
            srv.bind(("127.0.0.1", port))
        except OSError:
            srv.close()
            continue
        with srv:
            srv.listen(50)
            while has_rule(port) and time.monotonic() < deadline:
                c = socket.socket()
                c.settimeout(5)
                t0 = time.monotonic()
                try:
                    c.connect(("127.0.0.1", port))
                    got.append("connected")
                except OSError as exc:
                    what = errno.errorcode.get(exc.errno or 0, "timed out")
                    got.append(f"{what} after {time.monotonic() - t0:.1f}s")
                finally:
                    c.close()
        return


def main(rounds: int) -> int:
    svc = PodmanService.launch()
    failed = 0
    try:
        svc.run(svc.unique("keeper"), network="bridge")
        for _ in range(rounds):
            port, name = free_port(), svc.unique("pub")
            pub = ("-p", f"127.0.0.1:{port}:8123")
            svc.run(name, "httpd", "-f", "-p", "8123", network="bridge", args=pub)
            got: list[str] = []
            grab = threading.Thread(target=take_then_connect, args=(port, got))
            grab.start()
            svc.stop(name)
            grab.join()
            svc.rm(name)
            failed += any(g != "connected" for g in got)
            print(f"port {port} after podman stop, with our listener on it: {got}")
    finally:
        svc.close()
    return 0 if failed else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
