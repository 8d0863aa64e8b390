"""The inventory client of a collector: look a sender's container up, cache the answer.

A collector with the :class:`InventoryOptions` mixin in its options gets an
``inventory:`` option; :meth:`InventoryCache.for_collector` turns it into a cache that
asks that inventory instance over the Back channel (tcp, gelf).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...errors import QframeError
from ...inventory import ContainerQuery, ContainerReply
from ...message import ContainerInfo
from ...options import Field, PluginOptions
from ...plugin import Plugin

__all__ = ["InventoryCache", "InventoryOptions", "Requester"]


class InventoryOptions(PluginOptions):
    """Options of a collector that looks its senders up in an inventory (tcp, gelf)."""

    inventory: str = Field(
        "", description="inventory instance to look senders' containers up in (empty: off)"
    )
    inventory_timeout_ms: int = Field(
        2000, ge=0, description="how long to wait for the inventory's answer, in ms"
    )


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
