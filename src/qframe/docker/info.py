"""Container metadata: ``/containers/{id}/json`` → :class:`~qframe.message.ContainerInfo`.

The inspect answer is turned into a ContainerInfo once per container and cached
(:class:`ContainerCache`), so every message about a container carries the same object.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..message import ContainerInfo, format_time
from .client import DockerApiError, DockerClient

__all__ = ["ContainerCache", "Inspected", "container_info", "info_from_attributes"]

SWARM_SERVICE = "com.docker.swarm.service.name"
SWARM_TASK = "com.docker.swarm.task.name"
SWARM_TASK_ID = "com.docker.swarm.task.id"
#: Actor.Attributes keys that are not container labels (Docker and Podman)
EVENT_KEYS = frozenset(
    {"name", "image", "exitCode", "containerExitCode", "podId", "signal", "execID", "exec"}
)


def _swarm(labels: dict[str, str]) -> tuple[str, str, str]:
    """(service name, slot, task id) from the ``com.docker.swarm.*`` labels.

    A replicated task is named ``<service>.<slot>.<task id>``; a global one
    ``<service>.<node id>.<task id>`` (its "slot" is then the node id).
    """
    service = labels.get(SWARM_SERVICE, "")
    task = labels.get(SWARM_TASK, "")
    slot = ""
    task_id = labels.get(SWARM_TASK_ID, "")
    if service and task.startswith(service + "."):
        rest = task[len(service) + 1 :]
        slot, _, tid = rest.partition(".")
        task_id = task_id or tid
    return service, slot, task_id


def container_info(d: dict[str, Any]) -> ContainerInfo:
    """Build a ContainerInfo from an inspect (``/containers/{id}/json``) or list entry."""
    cfg = d.get("Config") or {}
    labels = cfg.get("Labels") if cfg else d.get("Labels")
    labels = {str(k): str(v) for k, v in (labels or {}).items()}
    nets = (d.get("NetworkSettings") or {}).get("Networks") or {}
    ips = {
        str(n): str(v["IPAddress"])
        for n, v in nets.items()
        if isinstance(v, dict) and v.get("IPAddress")
    }
    name = d.get("Name") or ""
    if not name and d.get("Names"):
        name = d["Names"][0]
    if "Path" in d:
        command = " ".join([str(d.get("Path") or ""), *map(str, d.get("Args") or [])]).strip()
    else:
        command = str(d.get("Command") or "")
    created = d.get("Created", "")
    if isinstance(created, int | float):  # the list answer has epoch seconds
        created = format_time(float(created))
    service, slot, task = _swarm(labels)
    return ContainerInfo(
        id=str(d.get("Id", "")),
        name=str(name),
        image=str(cfg.get("Image") or d.get("Image") or ""),
        image_id=str(d.get("Image") if cfg else d.get("ImageID") or ""),
        labels=labels,
        ips=ips,
        created=str(created),
        command=command,
        service_name=service,
        service_slot=slot,
        task_slot=task,
    )


def info_from_attributes(actor_id: str, attrs: dict[str, str]) -> ContainerInfo:
    """What an event's ``Actor.Attributes`` tell about a container that is already gone."""
    labels = {k: v for k, v in attrs.items() if k not in EVENT_KEYS}
    service, slot, task = _swarm(labels)
    return ContainerInfo(
        id=actor_id,
        name=attrs.get("name", ""),
        image=attrs.get("image", ""),
        labels=labels,
        service_name=service,
        service_slot=slot,
        task_slot=task,
    )


@dataclass
class Inspected:
    """A cached inspect: the ContainerInfo, and what the collectors need besides."""

    info: ContainerInfo
    tty: bool = False
    running: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ContainerCache:
    """Inspect each container once (concurrent callers share one request); LRU-bounded."""

    def __init__(self, client: DockerClient, max_size: int = 10_000) -> None:
        self.client = client
        self.max_size = max_size
        self._items: OrderedDict[str, Inspected] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Inspected | None]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def peek(self, container_id: str) -> Inspected | None:
        return self._items.get(container_id)

    def put(self, item: Inspected) -> None:
        self._items[item.info.id] = item
        self._items.move_to_end(item.info.id)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def forget(self, container_id: str) -> None:
        self._items.pop(container_id, None)

    async def get(self, container_id: str, refresh: bool = False) -> Inspected | None:
        """The cached inspect, or a fresh one; ``None`` when the container does not exist.

        Raises :class:`~qframe.docker.client.DockerUnavailable` when the engine is away.
        """
        if not refresh:
            hit = self._items.get(container_id)
            if hit is not None:
                return hit
        fut = self._pending.get(container_id)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._pending[container_id] = fut
        try:
            try:
                raw = await self.client.inspect(container_id)
            except DockerApiError as exc:
                if exc.status != 404:
                    raise
                item = None
            else:
                state = raw.get("State") or {}
                item = Inspected(
                    container_info(raw),
                    tty=bool((raw.get("Config") or {}).get("Tty")),
                    running=bool(state.get("Running")) if isinstance(state, dict) else False,
                    raw=raw,
                )
                self.put(item)
                if item.info.id != container_id:  # asked by name or short id
                    self._items[container_id] = item
            fut.set_result(item)
            return item
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                fut.cancel()
            else:
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: waiters get it through shield
            raise
        finally:
            self._pending.pop(container_id, None)
