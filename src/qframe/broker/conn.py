"""The connection to NATS of a plugin: its options, and a link that never blocks start-up.

:class:`NatsLink` connects in the background (``start`` does not wait for NATS), fails
over across the configured URLs, reconnects forever, and turns nats-py's callbacks into
the plugin's health (``degraded`` with the reason while the link is down) and one
rate-limited log line per cause — never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

# isort: off
from . import natsload  # first: nats-py without aiohttp

# isort: on
import nats
import nats.errors
from nats.aio.client import Client
from pydantic import field_validator

from ..options import SECRET, Duration, Field, PluginOptions, StrList
from ..urls import redact_text

if TYPE_CHECKING:
    from ..plugin import Plugin

__all__ = ["CredsError", "NatsLink", "NatsOptions", "read_creds", "read_seed", "token_safe"]


class NatsOptions(PluginOptions):
    """Where NATS is and how to log in (shared by the nats handler and collector)."""

    url: StrList = Field(
        default_factory=lambda: ["nats://127.0.0.1:4222"],
        description="NATS server URL(s): one, a list or a comma string (failover across them)",
    )
    username: str = Field("", description="user name")
    password: str = Field("", description="password", json_schema_extra=SECRET)
    token: str = Field("", description="authentication token", json_schema_extra=SECRET)
    creds: str = Field("", description="credentials file (JWT and nkey seed)")
    nkey_seed: str = Field("", description="file holding a user nkey seed (SU…)")
    tls_ca: str = Field("", description="CA bundle (PEM) to verify the server with")
    tls_cert: str = Field("", description="client certificate (PEM) for mutual TLS")
    tls_key: str = Field("", description="client certificate's key (PEM)")
    tls_verify: bool = Field(True, description="verify the server's certificate and host name")
    reconnect_wait: Duration = Field(1.0, gt=0, description="pause before reconnecting to a URL")
    request_timeout: Duration = Field(
        5.0, gt=0, description="time allowed for a JetStream request (publish, ack, fetch)"
    )

    @field_validator("creds")
    @classmethod
    def _creds_file(cls, v: str) -> str:
        """A creds file that cannot be read or holds no JWT and seed is a config error
        (``qframe validate`` and ``run`` exit 2 naming the plugin, the key and the file)."""
        if v:
            read_creds(v)
        return v

    @field_validator("nkey_seed")
    @classmethod
    def _seed_file(cls, v: str) -> str:
        if v:
            read_seed(v)
        return v


_MAX_FILE = 1 << 20


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(_MAX_FILE)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_seed(seed: bytes, path: str) -> bytes:
    try:
        import nkeys
    except ImportError:  # a dependency: only a broken installation lacks it
        raise ValueError("creds and nkey-seed need the nkeys package (pip install nkeys)") from None
    try:
        nkeys.from_seed(bytearray(seed)).wipe()
    except Exception:
        raise ValueError(f"{path} holds no nkey seed") from None
    if not seed.startswith(b"SU"):
        raise ValueError(f"{path} holds the nkey seed of no user (SU…)")
    return seed


def read_seed(path: str) -> bytes:
    """The user nkey seed in ``path`` (``nkey-seed``); ValueError saying what is wrong."""
    return _check_seed(_read(path).strip(), path)


def _block(data: bytes, name: bytes) -> bytes:
    """The first line with text after ``-----BEGIN <name>-----`` (b"" if none)."""
    at = data.find(b"BEGIN " + name)
    if at < 0:
        return b""
    for line in data[at:].splitlines()[1:]:
        line = line.strip()
        if line:
            return b"" if line.startswith(b"-") else line
    return b""


def read_creds(path: str) -> tuple[bytes, bytes]:
    """The user JWT and nkey seed of a ``.creds`` file; ValueError saying what is wrong.

    nats-py's own reader loops forever on a file without a JWT block (the daemon's event
    loop with it) and fails with a TypeError without a seed block: qframe reads the file
    itself, at start and at every connection (a rotated file is used at the next one)."""
    data = _read(path)
    jwt = _block(data, b"NATS USER JWT")
    if jwt.count(b".") != 2:
        raise ValueError(f"{path} holds no user JWT (a -----BEGIN NATS USER JWT----- block)")
    seed = _block(data, b"USER NKEY SEED")
    if not seed:
        raise ValueError(f"{path} holds no nkey seed (a -----BEGIN USER NKEY SEED----- block)")
    return jwt, _check_seed(seed, path)


class CredsError(nats.errors.Error):
    """The creds file went bad after start (read at every connection): nats-py counts it
    as a failed connection attempt, reports it, and tries again."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "creds"


def _creds_callbacks(path: str) -> dict[str, Any]:
    """nats-py's ``user_jwt_cb`` and ``signature_cb`` over the creds file ``path``."""
    import nkeys

    def now() -> tuple[bytes, bytes]:
        try:
            return read_creds(path)
        except ValueError as exc:
            raise CredsError(f"creds: {exc}") from None

    def user_jwt() -> bytes:
        return now()[0]

    def signature(nonce: str) -> bytes:
        kp = nkeys.from_seed(bytearray(now()[1]))
        try:
            return base64.b64encode(kp.sign(nonce.encode()))
        finally:
            kp.wipe()

    return {"user_jwt_cb": user_jwt, "signature_cb": signature}


def _urls(o: NatsOptions) -> list[str]:
    return [u if "://" in u else f"nats://{u}" for u in o.url]


def _tls(o: NatsOptions) -> ssl.SSLContext | None:
    if not (o.tls_ca or o.tls_cert or any(u.startswith("tls://") for u in o.url)):
        return None
    from ..plugins.common.delivery_options import client_tls  # (loaded only for TLS)

    return client_tls(o.tls_ca, o.tls_cert, o.tls_key, o.tls_verify)


_BAD_TOKEN = str.maketrans({c: "_" for c in " \t\r\n.*>"})


def token_safe(value: str) -> str:
    """A value made into one valid subject token (no spaces, dots or wildcards)."""
    return value.translate(_BAD_TOKEN) or "_"


class NatsLink:
    """One NATS connection for one plugin instance."""

    def __init__(
        self,
        plugin: Plugin,
        options: NatsOptions,
        on_connect: Callable[[Client], Awaitable[None]],
    ) -> None:
        self.plugin = plugin
        self.o = options
        self.on_connect = on_connect
        self.nc: Client | None = None
        self.ready = asyncio.Event()
        self.reason = "connecting to NATS"
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._seed = ""
        #: the last error the server reported (monotonic time, text): a set-up request
        #: the server refused (a permission) only times out; this says why
        self._said: tuple[float, str] = (0.0, "")

    # -- life --------------------------------------------------------------------------
    def start(self) -> None:
        """Check what can be checked without NATS (files, the nkeys package), then connect
        in the background.  Raises ValueError naming the option."""
        o = self.o
        for key, path in (
            ("tls-ca", o.tls_ca),
            ("tls-cert", o.tls_cert),
            ("tls-key", o.tls_key),
        ):
            if path and not os.access(path, os.R_OK):
                raise ValueError(f"{key}: cannot read {path}")
        # checked with the options already; again here: the files may have changed since
        try:
            if o.creds:
                key = "creds"
                read_creds(o.creds)
            if o.nkey_seed:
                key = "nkey-seed"
                self._seed = read_seed(o.nkey_seed).decode()
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        _tls(o)  # a bad certificate or key is a start-up error
        if any(u.startswith(("ws://", "wss://")) for u in o.url):
            natsload.websocket_support()
        self._task = self.plugin.spawn(self._connect(), "nats-connect")

    async def close(self) -> None:
        self._closing = True
        self.ready.clear()
        task = self._task
        if task is not None and not task.done():
            # nats-py's first connect, retrying a refused server, can swallow a
            # cancellation: cancel again until it ends, at most 5 s (a stop never hangs)
            for _ in range(50):
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
                if task.done():
                    break
            else:
                self.plugin.log.warning("NATS connection attempt did not end; left behind")
        nc, self.nc = self.nc, None
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), 5.0)
            except Exception as exc:
                self._cause("close", exc)

    async def _connect(self) -> None:
        # after the runtime's "ok" that follows start(): not ok until connected and set up
        self.plugin.set_health("degraded", self.reason)
        o = self.o
        kw: dict[str, Any] = {}
        if o.username:
            kw["user"], kw["password"] = o.username, o.password
        if o.token:
            kw["token"] = o.token
        if o.creds:
            kw.update(_creds_callbacks(o.creds))
        if self._seed:
            kw["nkeys_seed_str"] = self._seed  # read (and checked) by start()
        tls = _tls(o)
        if tls is not None:
            kw["tls"] = tls
        self.nc = await nats.connect(
            servers=_urls(o),
            name=f"qframe {self.plugin.name}",
            error_cb=self._error,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            closed_cb=self._closed,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=o.reconnect_wait,  # type: ignore[arg-type]
            connect_timeout=max(1, int(o.request_timeout)),
            **kw,
        )
        await self._setup()

    async def _setup(self) -> None:
        """The plugin's own set-up (stream, consumer), retried until it succeeds."""
        attempt = 0
        while not self._closing:
            nc = self.nc
            if nc is None or not nc.is_connected:
                return  # reconnected_cb runs it again
            began = time.monotonic()
            try:
                await self.on_connect(nc)
            except Exception as exc:
                attempt += 1
                why = _describe(exc)
                at, said = self._said
                if at >= began and isinstance(exc, TimeoutError):
                    why += f" (the server said: {said})"
                self._down(f"set-up: {why}")
                self._cause("setup", exc)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempt, 6)))
                continue
            self.reason = ""
            self.plugin.set_health("ok")
            self.ready.set()
            return

    # -- nats-py's callbacks (they must not raise) -------------------------------------
    async def _error(self, exc: Exception) -> None:
        self._said = (time.monotonic(), _describe(exc))
        if not self.ready.is_set():
            self._down(_describe(exc))
        self._cause("error", exc)

    async def _disconnected(self) -> None:
        if not self._closing:
            self._down("disconnected from NATS")

    async def _reconnected(self) -> None:
        nc = self.nc
        u = nc.connected_url if nc is not None else None
        url = f"{u.hostname}:{u.port}" if u is not None else "?"  # not netloc: no credentials
        self.plugin.log.info("reconnected to NATS at %s", url)
        self.plugin.spawn(self._setup(), "nats-setup")

    async def _closed(self) -> None:
        if not self._closing:
            self._down("connection to NATS closed")

    def _down(self, reason: str) -> None:
        self.ready.clear()
        self.reason = reason
        self.plugin.set_health("degraded", reason)

    def _cause(self, what: str, exc: BaseException) -> None:
        text = redact_text(_describe(exc))
        self.plugin.warn_limited(f"nats-{what}-{type(exc).__name__}", "NATS %s: %s", what, text)

    # -- use ---------------------------------------------------------------------------
    def restate(self) -> None:
        """Health again after the runtime said ``ok`` (a collector's (re)start)."""
        if not self.ready.is_set():
            self.plugin.set_health("degraded", self.reason)

    async def wait_ready(self) -> Client:
        await self.ready.wait()
        assert self.nc is not None
        return self.nc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name
