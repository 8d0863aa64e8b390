"""The elasticsearch handler over TLS: a CA file, client certificates, verification off.

The destination is a real server: osmem (the OpenSearch-compatible server of the other
handler tests) behind socat's OpenSSL listener, which asks for a client certificate
signed by the test CA (``verify=1``) — as the Docker TLS tests put the engine behind it.
A client without such a certificate fails its handshake, so a document in osmem proves
the handler presented one.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.message import Message
from qframe.testing import Harness
from tests.services import free_port, require_binary
from tests.services.osmem import Osmem
from tests.services.pki import make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_osmem(pki: Path) -> Iterator[tuple[str, Osmem]]:
    """osmem on an HTTPS port that requires a client certificate; yields (url, server)."""
    server = Osmem.start()
    port = free_port()
    proxy = subprocess.Popen(
        [
            require_binary("socat"),
            f"OPENSSL-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,"
            f"cert={pki / 'server.pem'},key={pki / 'server.key'},cafile={pki / 'ca.pem'},verify=1",
            f"TCP:127.0.0.1:{server.port}",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "socat did not listen"
                time.sleep(0.05)
        yield f"https://127.0.0.1:{port}", server
    finally:
        proxy.terminate()
        proxy.wait()
        server.stop()


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
    tls_osmem: tuple[str, Osmem], pki: Path, tmp_path: Path
) -> None:
    url, server = tls_osmem
    tls = {"tls-ca": str(pki / "ca.pem"), "tls-cert": str(pki / "client.pem")}
    tls["tls-key"] = str(pki / "client.key")
    async with Harness(config(url, tmp_path, **tls)) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        await h.wait_for(lambda: h.plugin("src").acked == 1, timeout=30)
    hits = server.search("qframe-*")
    assert [(x["_id"], x["_source"]["message"]) for x in hits] == [("1", "secure")]


async def test_an_unverifiable_server_gets_nothing_until_verification_is_turned_off(
    tls_osmem: tuple[str, Osmem], pki: Path, tmp_path: Path
) -> None:
    url, server = tls_osmem
    client = {"tls-cert": str(pki / "client.pem"), "tls-key": str(pki / "client.key")}
    async with Harness(config(url, tmp_path, **client), shutdown_timeout=1.5) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        es = h.plugin("es")
        await h.wait_for(lambda: es.metrics.counter("requests", status="error") >= 2, timeout=30)
        assert h.plugin("src").acked == 0
        assert "certificate" in es.metrics.state_reason.lower()
    assert server.count("qframe-*") == 0
    async with Harness(config(url, tmp_path, **client, **{"tls-verify": False})) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        await h.wait_for(lambda: h.plugin("src").acked == 1, timeout=30)
    assert server.count("qframe-*") == 1


async def test_a_handler_without_a_client_certificate_is_refused_by_the_server(
    tls_osmem: tuple[str, Osmem], pki: Path, tmp_path: Path
) -> None:
    url, server = tls_osmem
    cfg = config(url, tmp_path, **{"tls-ca": str(pki / "ca.pem")})
    async with Harness(cfg, shutdown_timeout=1.5) as h:
        await h.plugin("src").send([Message("secure", id="1")])
        es = h.plugin("es")
        await h.wait_for(lambda: es.metrics.counter("requests", status="error") >= 2, timeout=30)
        assert h.plugin("src").acked == 0
    assert server.count("qframe-*") == 0
