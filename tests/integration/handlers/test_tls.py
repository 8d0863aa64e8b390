"""The HTTP handlers over TLS: a CA file, client certificates, and verification turned off."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from qframe.message import Message
from qframe.testing import Harness
from tests.services import free_port, unavailable


@dataclass
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        unavailable("openssl is not installed")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", f"{name}.pem", cwd=d)  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")


@pytest.fixture
async def tls_sink(pki: Pki) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTPS _bulk sink that requires a client certificate; yields (url, client CNs seen)."""
    seen: list[str] = []

    async def bulk(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        seen.append(dict(x[0] for x in peer["subject"])["commonName"] if peer else "")
        n = len((await request.read()).splitlines()) // 2
        return web.json_response({"errors": False, "items": [{"index": {"status": 201}}] * n})

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    ctx.load_cert_chain(str(pki.cert), str(pki.key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_post("/_bulk", bulk)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    yield f"https://127.0.0.1:{port}", seen
    await runner.cleanup()


def config(url: str, data_dir: Path, **handler: object) -> dict[str, object]:
    return {
        "tick": "0.1s",
        "data-dir": str(data_dir),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {
            "es": {
                "kind": "elasticsearch",
                "inputs": ["src"],
                "url": url,
                "retry-initial": "20ms",
                "retry-max": "100ms",
                **handler,
            }
        },
    }


async def test_documents_go_over_tls_with_a_ca_file_and_a_client_certificate(
    tls_sink: tuple[str, list[str]], pki: Pki, tmp_path: Path
) -> None:
    url, seen = tls_sink
    cfg = config(
        url,
        tmp_path,
        **{"tls-ca": str(pki.ca), "tls-cert": str(pki.client_cert), "tls-key": str(pki.client_key)},
    )
    async with Harness(cfg) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        await h.wait_for(lambda: h.plugin("src").acked == 1)
    assert seen == ["client"]


async def test_an_unverifiable_server_gets_nothing_until_verification_is_turned_off(
    tls_sink: tuple[str, list[str]], pki: Pki, tmp_path: Path
) -> None:
    url, seen = tls_sink
    client = {"tls-cert": str(pki.client_cert), "tls-key": str(pki.client_key)}
    async with Harness(config(url, tmp_path, **client), shutdown_timeout=1.5) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        es = h.plugin("es")
        await h.wait_for(lambda: es.metrics.counter("requests", status="error") >= 2)
        assert h.plugin("src").acked == 0
        assert "certificate" in es.metrics.state_reason.lower()
    assert seen == []
    async with Harness(config(url, tmp_path, **client, **{"tls-verify": False})) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        await h.wait_for(lambda: h.plugin("src").acked == 1)
    assert seen == ["client"]
