"""The elasticsearch handler over TLS: a CA file, client certificates, verification off.

The destination is a real server: osmem (the OpenSearch-compatible server of the other
handler tests) behind socat's OpenSSL listener, which asks for a client certificate
signed by the test CA (``verify=1``) — as the Docker TLS tests put the engine behind it.
A client without such a certificate fails its handshake, so a document in osmem proves
the handler presented one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.message import Message
from qframe.testing import Harness
from tests.integration.handlers.helpers import es_config as config
from tests.services.osmem import Osmem
from tests.services.pki import client_tls, tls_proxy


@pytest.fixture
def tls_osmem(pki: Path) -> Iterator[tuple[str, Osmem]]:
    """osmem on an HTTPS port that requires a client certificate; yields (url, server)."""
    server = Osmem.start()
    try:
        with tls_proxy(pki, f"TCP:127.0.0.1:{server.port}") as port:
            yield f"https://127.0.0.1:{port}", server
    finally:
        server.stop()


async def test_documents_go_over_tls_with_a_ca_file_and_a_client_certificate(
    tls_osmem: tuple[str, Osmem], pki: Path, tmp_path: Path
) -> None:
    url, server = tls_osmem
    async with Harness(config(url, tmp_path, **client_tls(pki))) as h:
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
