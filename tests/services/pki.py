"""A throwaway certificate authority for TLS tests (``openssl`` from the system).

``make_pki(d)`` writes into ``d``: ``ca.pem``/``ca.key``, ``server.pem``/``server.key``
(for 127.0.0.1) and ``client.pem``/``client.key`` (for client authentication), both
signed by the CA, valid two days.  (Integration tests: the session fixture ``pki``.)

``client_tls(d)`` is the ``tls-ca``/``tls-cert``/``tls-key`` options of a plugin that
presents the client certificate; ``tls_proxy(d, target)`` puts a plain service behind
socat's OpenSSL listener, which asks for a client certificate of the CA (``verify=1``).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from . import free_port, require_binary, spawn_until_ready, terminate, unavailable

__all__ = ["client_tls", "make_pki", "tls_proxy"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([require_binary("openssl"), *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> Path:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=qframe test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d,
    )  # fmt: skip
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (d / f"{name}.ext").write_text(ext)
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=qframe {name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=d,
        )  # fmt: skip
    return d


def client_tls(d: Path) -> dict[str, str]:
    """The options of a client that trusts the CA and presents the client certificate."""
    return {
        "tls-ca": str(d / "ca.pem"),
        "tls-cert": str(d / "client.pem"),
        "tls-key": str(d / "client.key"),
    }


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def tls_proxy(d: Path, target: str, timeout: float = 30.0) -> Iterator[int]:
    """socat serving TLS on a free loopback port (``d``'s server certificate; a client
    certificate of its CA required) in front of ``target``, a socat address
    (``TCP:127.0.0.1:9200``, ``UNIX-CONNECT:/path``).  Yields the port.
    """
    socat = require_binary("socat")
    proc = None
    for _ in range(3):  # another process may take the free port before socat binds it
        port = free_port()
        listen = (
            f"OPENSSL-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,"
            f"cert={d / 'server.pem'},key={d / 'server.key'},cafile={d / 'ca.pem'},verify=1"
        )
        proc = spawn_until_ready(
            [socat, listen, target], functools.partial(_accepts, port), timeout
        )
        if proc is not None:
            break
    if proc is None:
        unavailable(f"socat did not listen with TLS in front of {target}")
    try:
        yield port
    finally:
        terminate(proc)
