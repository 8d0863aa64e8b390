"""The nats handler and collector against a NATS that wants mutual TLS and a password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qframe.message import Message
from qframe.testing import Harness
from tests.services.nats import NatsServer
from tests.services.pki import make_pki

pytestmark = pytest.mark.integration


@pytest.fixture
def secure_nats(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    extra = (
        f'tls {{ cert_file: "{pki}/server.pem", key_file: "{pki}/server.key",'
        f' ca_file: "{pki}/ca.pem", verify: true }}\n'
        'authorization { user: "agent", password: "s3cret" }'
    )
    server = NatsServer.start(extra=extra)
    try:
        yield server, pki
    finally:
        server.close()


def creds(pki: Path, password: str = "s3cret") -> dict[str, Any]:
    return {
        "username": "agent",
        "password": password,
        "tls-ca": str(pki / "ca.pem"),
        "tls-cert": str(pki / "client.pem"),
        "tls-key": str(pki / "client.key"),
        "reconnect-wait": "200ms",
    }


async def test_mutual_tls_and_a_password(
    secure_nats: tuple[NatsServer, Path], tmp_path: Path
) -> None:
    server, pki = secure_nats
    config = {
        "tick": "50ms",
        "data-dir": str(tmp_path / "data"),
        "collector": {
            "src": {"kind": "list", "ack": True, "linger": True},
            "in": {"kind": "nats", "url": server.url, "stream": "SEC", **creds(pki)},
        },
        "handler": {
            "out": {
                "kind": "nats",
                "inputs": ["src"],
                "url": server.url,
                "stream": "SEC",
                "subject": "sec.logs",
                "stream-subjects": ["sec.>"],
                **creds(pki),
            },
            "cap": {"kind": "capture", "inputs": ["in"]},
        },
    }
    async with Harness(config) as h:
        await h.plugin("src").send([Message(f"secret {i}") for i in range(10)])
        await h.wait_for(lambda: len(h.captured("cap")) == 10, timeout=30, what="all carried")
    assert sorted(m.message for m in h.captured("cap")) == sorted(f"secret {i}" for i in range(10))


async def test_a_wrong_password_is_a_reason_not_a_traceback(
    secure_nats: tuple[NatsServer, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, pki = secure_nats
    config = {
        "data-dir": str(tmp_path / "data"),
        "collector": {"src": {"kind": "list", "linger": True}},
        "handler": {
            "out": {"kind": "nats", "inputs": ["src"], "url": server.url, **creds(pki, "wrong")}
        },
    }
    async with Harness(config) as h:
        out = h.plugin("out")
        await h.wait_for(
            lambda: "authorization" in out.metrics.state_reason.lower(), what="the reason"
        )
        assert out.metrics.state == "degraded"
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    assert any("authorization" in r.getMessage().lower() for r in caplog.records)


async def test_an_unreadable_credentials_file_stops_start_up(tmp_path: Path) -> None:
    from qframe.errors import StartupError

    config = {
        "data-dir": str(tmp_path / "data"),
        "collector": {"src": {"kind": "list"}},
        "handler": {
            "out": {"kind": "nats", "inputs": ["src"], "creds": str(tmp_path / "missing.creds")}
        },
    }
    with pytest.raises(StartupError, match=r"handler\.out: creds: cannot read"):
        async with Harness(config):
            pass
