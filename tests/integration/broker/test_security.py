"""The nats handler and collector against a NATS that wants mutual TLS and a password."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from qframe.message import Message
from qframe.testing import Harness
from tests.integration.broker.helpers import loop, sender
from tests.services.nats import NatsServer
from tests.services.pki import client_tls

pytestmark = pytest.mark.integration


@pytest.fixture
def secure_nats(pki: Path) -> Iterator[tuple[NatsServer, Path]]:
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
        **client_tls(pki),
        "reconnect-wait": "200ms",
    }


async def test_mutual_tls_and_a_password(
    secure_nats: tuple[NatsServer, Path], tmp_path: Path
) -> None:
    server, pki = secure_nats
    config = loop(server.url, tmp_path / "data", "SEC", **creds(pki))
    async with Harness(config) as h:
        await h.plugin("src").send([Message(f"secret {i}") for i in range(10)])
        await h.wait_for(lambda: len(h.captured("cap")) == 10, timeout=30, what="all carried")
    assert sorted(m.message for m in h.captured("cap")) == sorted(f"secret {i}" for i in range(10))


async def test_a_wrong_password_is_a_reason_not_a_traceback(
    secure_nats: tuple[NatsServer, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, pki = secure_nats
    config = sender(server.url, tmp_path / "data", **creds(pki, "wrong"))
    async with Harness(config) as h:
        out = h.plugin("out")
        await h.wait_for(
            lambda: "authorization" in out.metrics.state_reason.lower(), what="the reason"
        )
        assert out.metrics.state == "degraded"
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    assert any("authorization" in r.getMessage().lower() for r in caplog.records)


def nkey_pair(tmp_path: Path, name: str) -> tuple[str, Path]:
    """A user nkey made here (public key for the server, seed file for qframe)."""
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    path = tmp_path / f"{name}.nk"
    path.write_bytes(seed + b"\n")
    path.chmod(0o600)
    return public, path


async def test_an_nkey_user_carries_messages_and_another_key_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    public, seed = nkey_pair(tmp_path, "agent")
    _, stranger = nkey_pair(tmp_path, "stranger")
    server = NatsServer.start(extra=f'authorization {{ users: [ {{ nkey: "{public}" }} ] }}')
    try:
        nk = {"nkey-seed": str(seed), "reconnect-wait": "200ms"}
        config = loop(server.url, tmp_path / "data", "NK", **nk)
        async with Harness(config) as h:
            await h.plugin("src").send([Message(f"signed {i}") for i in range(10)])
            await h.wait_for(lambda: len(h.captured("cap")) == 10, timeout=30, what="carried")
            assert h.plugin("src").acked == 10
        assert sorted(h.texts("cap")) == sorted(f"signed {i}" for i in range(10))

        # a seed the server does not know: a reason in /health, no traceback
        wrong = sender(server.url, tmp_path / "data2", **{**nk, "nkey-seed": str(stranger)})
        async with Harness(wrong) as h:
            out = h.plugin("out")
            await h.wait_for(
                lambda: "authorization" in out.metrics.state_reason.lower(), what="the reason"
            )
            assert out.metrics.state == "degraded"
        assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    finally:
        server.close()


@pytest.fixture
async def operator_nats(tmp_path: Path) -> AsyncIterator[tuple[NatsServer, Path, Path]]:
    """A NATS in operator mode (an operator, a system account and an account with
    JetStream, their JWTs made here and preloaded in a memory resolver), its account
    registered by a first log-in alone (``register_account``: two first log-ins at once
    make nats-server 2.9 enable the account's JetStream twice and lose a stream's
    messages); the creds file of a user of that account, and that of a user of an
    account the server does not know."""
    from tests.services.natsjwt import Operator, register_account

    op = Operator.create()
    app = op.account("APP", jetstream=True)
    good = app.user("agent").write_creds(tmp_path / "agent.creds")
    # signed by another operator's account: well formed, unknown to this server
    stranger = Operator.create("elsewhere").account("APP")
    bad = stranger.user("agent").write_creds(tmp_path / "stranger.creds")
    server = NatsServer.start(extra=op.server_config(app))
    try:
        await register_account(server.url, good)
        yield server, good, bad
    finally:
        server.close()


async def test_a_creds_file_carries_agent_to_stream_to_aggregator(
    operator_nats: tuple[NatsServer, Path, Path], tmp_path: Path
) -> None:
    """``creds:`` (a user JWT and nkey seed) logs both the agent's handler and the
    aggregator's collector in to a server in operator mode; the stream is created in
    the user's account and every message goes through it."""
    server, good, _ = operator_nats
    link = {"creds": str(good), "reconnect-wait": "200ms"}
    config = loop(server.url, tmp_path / "data", "OPS", **link)
    async with Harness(config) as h:
        await h.plugin("src").send([Message(f"jwt {i}") for i in range(20)])
        # the agent side: every batch confirmed by JetStream (PubAck) in the user's account
        await h.wait_for(lambda: h.plugin("src").acked == 20, timeout=120, what="acked")
        await h.wait_for(lambda: len(h.captured("cap")) == 20, timeout=120, what="carried")
        for name in ("out", "in"):  # logged in: no reason left (a start may race the stream)
            p = h.plugin(name)
            await h.wait_for(lambda p=p: p.metrics.state == "ok", timeout=120, what=f"{name} ok")
    assert sorted(h.texts("cap")) == sorted(f"jwt {i}" for i in range(20))


async def test_a_creds_file_the_server_does_not_know_is_a_reason_not_a_traceback(
    operator_nats: tuple[NatsServer, Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, _, bad = operator_nats
    config = loop(
        server.url, tmp_path / "data", "OPS", creds=str(bad), **{"reconnect-wait": "200ms"}
    )
    async with Harness(config) as h:
        for name in ("out", "in"):
            p = h.plugin(name)
            await h.wait_for(
                lambda p=p: "authorization" in p.metrics.state_reason.lower(),
                timeout=120,
                what=f"the reason of {name}",
            )
            assert p.metrics.state == "degraded"
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    assert any("authorization" in r.getMessage().lower() for r in caplog.records)


async def test_a_creds_file_gone_bad_while_running_is_a_reason_and_the_link_comes_back(
    operator_nats: tuple[NatsServer, Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The creds file is read at every connection (a rotated file is used at the next
    one).  One garbled while the daemon runs (here: its JWT block gone, on which nats-py's
    own reader spun forever and froze the daemon) is a reason in /health at the next
    connection, retried, with no traceback; the file put right, the link comes back and
    what waited is delivered."""
    server, good, _ = operator_nats
    creds = tmp_path / "rotating.creds"
    creds.write_bytes(good.read_bytes())
    config = {
        "tick": "50ms",
        "data-dir": str(tmp_path / "data"),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {
            "out": {
                "kind": "nats",
                "inputs": ["src"],
                "url": server.url,
                "stream": "ROT",
                "subject": "rot.logs",
                "stream-subjects": ["rot.>"],
                "creds": str(creds),
                "reconnect-wait": "200ms",
            }
        },
    }
    async with Harness(config) as h:
        out = h.plugin("out")
        await h.wait_for(lambda: out.metrics.state == "ok", timeout=120, what="out ok")
        text = good.read_text()
        creds.write_text(text[text.index("-----BEGIN USER NKEY SEED") :])
        server.stop()  # the connection goes; the next ones read the garbled file
        server.start_again()
        await h.wait_for(
            lambda: "holds no user JWT" in out.metrics.state_reason,
            timeout=120,
            what="the reason in /health",
        )
        assert out.metrics.state == "degraded"
        assert str(creds) in out.metrics.state_reason
        await h.plugin("src").send([Message(f"after {i}") for i in range(10)])
        creds.write_bytes(good.read_bytes())  # put right: the next attempt logs in
        await h.wait_for(lambda: h.plugin("src").acked == 10, timeout=120, what="acked")
        await h.wait_for(lambda: out.metrics.state == "ok", timeout=120, what="out ok again")
    assert not any(r.exc_info for r in caplog.records), "no traceback logged"
    assert any("holds no user JWT" in r.getMessage() for r in caplog.records)
