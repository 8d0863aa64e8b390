"""Back-channel requests answered by the inventory filter (public for every plugin).

::

    from qframe.inventory import ContainerQuery
    q = ContainerQuery(ip="10.88.0.5", timeout=2.0)       # kept pending up to 2 s
    reply = await self.request("inventory", q, timeout=2.5)  # a little longer: the inventory
    if reply.found:                                           # answers not-found at 2 s
        msg.container = reply.container

The inventory answers at once when it knows the container, else as soon as the container
starts, else with ``ContainerReply(container=None)`` once ``q.timeout`` is over.
"""

from __future__ import annotations

from dataclasses import dataclass

from .message import ContainerInfo

__all__ = ["ContainerQuery", "ContainerReply"]


@dataclass(frozen=True)
class ContainerQuery:
    """Find a container by id (full or prefix of ≥ 12), name (with or without ``/``) or IP.

    Empty keys never match.  ``timeout`` is how long the inventory keeps the request
    pending when the container is not known yet (0: answer at once).
    """

    id: str = ""
    name: str = ""
    ip: str = ""
    timeout: float = 2.0

    def describe(self) -> str:
        for k in ("id", "name", "ip"):
            v = getattr(self, k)
            if v:
                return f"{k} {v}"
        return "nothing"


@dataclass(frozen=True)
class ContainerReply:
    query: ContainerQuery
    container: ContainerInfo | None = None

    @property
    def found(self) -> bool:
        return self.container is not None
