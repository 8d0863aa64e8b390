"""NATS decentralised auth for tests: operator, account and user JWTs made here.

A NATS JWT is ``base64url(header) . base64url(claims) . base64url(signature)`` (no
padding): the header ``{"typ": "JWT", "alg": "ed25519-nkey"}``, the claims JSON (``jti``
a hash of the claims, ``iat``, ``iss`` the signer's public nkey, ``sub`` the subject's,
``nats`` what the subject is), and the signature the ed25519 signature, by the issuer's
nkey, of the first two parts.  An operator signs itself and its accounts; an account
signs its users.  A ``.creds`` file holds a user's JWT and nkey seed.

::

    from tests.services.natsjwt import Operator

    op = Operator.create()
    acc = op.account("APP", jetstream=True)
    creds = acc.user("agent").write_creds(tmp_path / "agent.creds")
    server = NatsServer.start(extra=op.server_config(acc))
    await register_account(server.url, creds)   # before two clients log in at once

Why :func:`register_account`: nats-server (2.9.10 here) registers a resolver's account at
the first log-in of one of its users, and enables its JetStream then.  Two first log-ins
at once (an agent and an aggregator started together) register it twice: the second
enabling recovers the account's JetStream store from disk while the first one's stream
is in use, and that stream (its publishes acknowledged) then has messages no consumer
can read — the server logs ``error looking up message for consumer: open
…/msgs/1.blk: no such file or directory`` at every pull, and the pulls get nothing
(21 of 100 cold starts of that race here, 0 of 100 after a first log-in alone).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Account", "KeyPair", "Operator", "User", "encode_jwt", "register_account"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class KeyPair:
    """An nkey: its seed (secret) and public key (``O…``, ``A…`` or ``U…``)."""

    seed: bytes
    public: str

    @classmethod
    def create(cls, prefix: int) -> KeyPair:
        import nkeys

        seed = nkeys.encode_seed(os.urandom(32), prefix)
        return cls(seed, nkeys.from_seed(bytearray(seed)).public_key.decode())

    def sign(self, data: bytes) -> bytes:
        import nkeys

        return bytes(nkeys.from_seed(bytearray(self.seed)).sign(data))


def encode_jwt(issuer: KeyPair, subject: str, name: str, nats: dict[str, Any]) -> str:
    """Claims about ``subject`` signed by ``issuer`` (the JWT's three parts)."""
    claims: dict[str, Any] = {
        "iat": int(time.time()),
        "iss": issuer.public,
        "name": name,
        "sub": subject,
        "nats": {**nats, "version": 2},
    }
    # the jti: a hash of the claims without it (what the nats tools write)
    digest = hashlib.new("sha512_256", orjson.dumps(claims)).digest()
    claims = {"jti": base64.b32encode(digest).decode().rstrip("="), **claims}
    header = _b64(orjson.dumps({"typ": "JWT", "alg": "ed25519-nkey"}))
    body = f"{header}.{_b64(orjson.dumps(claims))}"
    return f"{body}.{_b64(issuer.sign(body.encode()))}"


@dataclass
class User:
    keys: KeyPair
    jwt: str

    def write_creds(self, path: Path) -> Path:
        """The ``.creds`` file of this user (mode 0600)."""
        path.write_text(
            "-----BEGIN NATS USER JWT-----\n"
            f"{self.jwt}\n"
            "------END NATS USER JWT------\n\n"
            "************************* IMPORTANT *************************\n"
            "NKEY Seed printed below can be used to sign and prove identity.\n\n"
            "-----BEGIN USER NKEY SEED-----\n"
            f"{self.keys.seed.decode()}\n"
            "------END USER NKEY SEED------\n"
        )
        path.chmod(0o600)
        return path


@dataclass
class Account:
    keys: KeyPair
    jwt: str

    def user(self, name: str) -> User:
        """A user of this account, allowed everything (its JWT signed by the account)."""
        import nkeys

        keys = KeyPair.create(nkeys.PREFIX_BYTE_USER)
        nats = {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}
        return User(keys, encode_jwt(self.keys, keys.public, name, nats))


_NO_LIMITS = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1}
_NO_LIMITS |= {"wildcards": True, "conn": -1, "leaf": -1}
_JETSTREAM = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


@dataclass
class Operator:
    keys: KeyPair
    jwt: str
    system: Account

    @classmethod
    def create(cls, name: str = "qframe-test") -> Operator:
        """An operator (self-signed) with its system account."""
        import nkeys

        keys = KeyPair.create(nkeys.PREFIX_BYTE_OPERATOR)
        system = cls._account(keys, "SYS", jetstream=False)
        jwt = encode_jwt(
            keys, keys.public, name, {"type": "operator", "system_account": system.keys.public}
        )
        return cls(keys, jwt, system)

    @staticmethod
    def _account(issuer: KeyPair, name: str, jetstream: bool) -> Account:
        import nkeys

        keys = KeyPair.create(nkeys.PREFIX_BYTE_ACCOUNT)
        limits = {**_NO_LIMITS, **(_JETSTREAM if jetstream else {})}
        nats = {"type": "account", "limits": limits, "default_permissions": {"pub": {}, "sub": {}}}
        return Account(keys, encode_jwt(issuer, keys.public, name, nats))

    def account(self, name: str, jetstream: bool = True) -> Account:
        """An account signed by this operator (JetStream enabled, no limits)."""
        return self._account(self.keys, name, jetstream)

    def server_config(self, *accounts: Account) -> str:
        """nats-server config lines: this operator, its system account and ``accounts``
        preloaded in a memory resolver."""
        preload = ", ".join(f"{a.keys.public}: {a.jwt}" for a in (self.system, *accounts))
        return (
            f"operator: {self.jwt}\n"
            f"system_account: {self.system.keys.public}\n"
            "resolver: MEMORY\n"
            f"resolver_preload: {{ {preload} }}"
        )


async def register_account(url: str, creds: Path) -> None:
    """Log in once with ``creds`` and wait for the account's JetStream to answer: the
    server has registered the account (see the module's doc) before the clients under
    test log in together."""
    import nats

    nc = await nats.connect(url, user_credentials=str(creds), max_reconnect_attempts=0)
    try:
        await nc.jetstream(timeout=30).account_info()
    finally:
        await nc.close()
