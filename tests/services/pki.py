"""A throwaway certificate authority for TLS tests (``openssl`` from the system).

``make_pki(d)`` writes into ``d``: ``ca.pem``/``ca.key``, ``server.pem``/``server.key``
(for 127.0.0.1) and ``client.pem``/``client.key`` (for client authentication), both
signed by the CA, valid two days.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from . import require_binary

__all__ = ["make_pki"]


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
