"""The ops endpoint: ``GET /inventory/containers[?name=|id=|ip=][&wait=20s]``.

Without a key it lists the inventory (200).  With a key it asks the inventory through
the Back channel, exactly as a plugin would (``ContainerQuery(..., timeout=wait)``):
200 with the container's JSON as soon as it is known, 404 once ``wait`` is over.
An empty key (``?name=``) never matches: 404 at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ....errors import RequestError
from ....inventory import ContainerQuery, ContainerReply
from ....options import parse_duration

if TYPE_CHECKING:
    from .filter import InventoryFilter

__all__ = ["containers_handler"]

KEYS = ("id", "name", "ip")
#: the Back-channel timeout is the query's own plus this margin: the inventory answers first
REPLY_MARGIN = 5.0


def containers_handler(
    plugin: InventoryFilter,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def containers(request: web.Request) -> web.StreamResponse:
        q = request.query
        if not any(k in q for k in KEYS):
            entries = sorted(plugin.index, key=lambda e: (e.info.name, e.info.id))
            body = {"count": len(entries), "containers": [e.to_dict() for e in entries]}
            return web.json_response(body)
        try:
            wait = float(parse_duration(q.get("wait", "0")))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        wait = max(0.0, min(wait, plugin.options.max_poll_wait))
        query = ContainerQuery(
            id=q.get("id", ""), name=q.get("name", ""), ip=q.get("ip", ""), timeout=wait
        )
        try:
            reply = await plugin.request(plugin.name, query, timeout=wait + REPLY_MARGIN)
        except RequestError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        assert isinstance(reply, ContainerReply)
        if reply.container is None:
            return web.json_response(
                {
                    "error": "not found",
                    "query": {k: getattr(query, k) for k in KEYS if getattr(query, k)},
                    "wait_s": wait,
                },
                status=404,
            )
        return web.json_response(reply.container.to_dict())

    return containers
