"""Small helpers of the network collectors: an inventory cache, the stream server options."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import model_validator

from ..errors import QframeError
from ..inventory import ContainerQuery, ContainerReply
from ..message import ContainerInfo
from ..options import Bytes, Duration, Field, PluginOptions
from ..plugin import Plugin
from .stream import Connection, tls_context

__all__ = [
    "InventoryCache",
    "InventoryOptions",
    "StreamServerOptions",
    "server_tls",
    "stream_server_args",
]


class InventoryOptions(PluginOptions):
    """Options of a collector that looks its senders up in an inventory (tcp, gelf)."""

    inventory: str = Field(
        "", description="inventory instance to look senders' containers up in (empty: off)"
    )
    inventory_timeout_ms: int = Field(
        2000, ge=0, description="how long to wait for the inventory's answer, in ms"
    )


class StreamServerOptions(PluginOptions):
    """Options of a collector that serves TCP connections (tcp, gelf over TCP)."""

    tls_cert: str = Field("", description="PEM certificate (chain) file: serve TLS when set")
    tls_key: str = Field("", description="PEM private key file for tls-cert")
    tls_client_ca: str = Field(
        "", description="PEM CA file: clients must present a certificate it signed"
    )

    idle_timeout: Duration = Field(
        0.0, ge=0, description="close a connection that sent nothing for this long (0: never)"
    )
    max_buffer_bytes: Bytes = Field(
        "64MiB",
        ge=1,
        description="bytes read from all connections together and not yet handed on; "
        "reading pauses above it",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> StreamServerOptions:
        if (self.tls_key or self.tls_client_ca) and not self.tls_cert:
            raise ValueError("tls-key and tls-client-ca need tls-cert")
        return self


def server_tls(options: StreamServerOptions) -> ssl.SSLContext | None:
    """The TLS context of ``tls-cert``/``tls-key``/``tls-client-ca``, or None (plain TCP)."""
    if not options.tls_cert:
        return None
    for key, path in (
        ("tls-cert", options.tls_cert),
        ("tls-key", options.tls_key),
        ("tls-client-ca", options.tls_client_ca),
    ):
        if path and not os.access(path, os.R_OK):
            raise ValueError(f"{key} {path}: not a readable file")
    try:
        return tls_context(options.tls_cert, options.tls_key, options.tls_client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"TLS files {options.tls_cert}, {options.tls_key or '-'}: {exc}") from exc


def stream_server_args(plugin: Plugin, options: StreamServerOptions) -> dict[str, Any]:
    """The StreamServer arguments for ``options``; idle closings are counted and logged."""

    def on_idle(conn: Connection) -> None:
        plugin.metrics.inc("idle_closed")
        plugin.log.debug("closing %s:%d: idle for %ss", conn.ip, conn.port, options.idle_timeout)

    return {
        "max_buffered": options.max_buffer_bytes,
        "idle_timeout": options.idle_timeout,
        "on_idle": on_idle,
    }


Requester = Callable[[str, Any, float], Awaitable[Any]]


class InventoryCache:
    """Looks containers up through the inventory's Back channel, caching answers briefly.

    Concurrent lookups of the same key share one request.  A found container is kept
    ``ttl`` seconds, a miss (not found, timeout, error) ``miss_ttl`` seconds; the cache
    holds at most ``max_entries`` keys.
    """

    @classmethod
    def for_collector(cls, plugin: Plugin, options: InventoryOptions) -> InventoryCache | None:
        """The cache of a collector's ``inventory:`` option (that instance must exist), or
        None when it is off."""
        target, timeout_ms = options.inventory, options.inventory_timeout_ms
        if not target:
            return None
        if not plugin.has_instance(target):
            raise ValueError(f"inventory instance {target!r} is not configured")
        return cls(
            plugin.request,
            target,
            timeout_ms / 1000,
            on_error=lambda what, err: plugin.warn_limited(
                "inventory", "inventory lookup of %s failed: %s", what, err, burst=5
            ),
        )

    def __init__(
        self,
        request: Requester,
        target: str,
        timeout: float,
        ttl: float = 30.0,
        miss_ttl: float = 5.0,
        max_entries: int = 10_000,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.request = request
        self.target = target
        self.timeout = timeout
        self.ttl = ttl
        self.miss_ttl = miss_ttl
        self.max_entries = max_entries
        self.on_error = on_error
        self._cache: dict[tuple[str, str], tuple[float, ContainerInfo | None]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[ContainerInfo | None]] = {}

    def cached(self, key: tuple[str, str]) -> tuple[bool, ContainerInfo | None]:
        """(known, container) without waiting."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    async def lookup(self, by: str, value: str) -> ContainerInfo | None:
        """The container whose ``by`` ("id" or "ip") is ``value``, or None."""
        if not value:
            return None
        key = (by, value)
        known, c = self.cached(key)
        if known:
            return c
        fut = self._inflight.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        result: ContainerInfo | None = None
        try:
            q = ContainerQuery(timeout=self.timeout, **{by: value})
            reply = await self.request(self.target, q, self.timeout + 0.25)
            if isinstance(reply, ContainerReply):
                result = reply.container
            elif isinstance(reply, ContainerInfo):
                result = reply
        except (TimeoutError, QframeError) as exc:
            if self.on_error is not None:
                self.on_error(f"{by} {value}", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # the inventory is someone else's code: never crash here
            if self.on_error is not None:
                self.on_error(f"{by} {value}", repr(exc))
        finally:
            self._inflight.pop(key, None)
            if len(self._cache) >= self.max_entries:
                self._prune()
            ttl = self.ttl if result is not None else self.miss_ttl
            self._cache[key] = (time.monotonic() + ttl, result)
            if not fut.done():
                fut.set_result(result)
        return result

    def _prune(self) -> None:
        now = time.monotonic()
        for k in [k for k, (exp, _) in self._cache.items() if exp <= now]:
            del self._cache[k]
        while len(self._cache) >= self.max_entries:
            del self._cache[next(iter(self._cache))]
