"""What waits for a container to appear: pending Back-channel queries and held messages.

Both are *waiters* registered under the keys they look for (``("id", prefix)``,
``("name", name)``, ``("ip", address)``).  When a container becomes matchable, the
waiters under its keys are taken in arrival order, each once, in O(keys) dictionary
operations: nothing scans the whole set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from ....inventory import ContainerQuery
from ....message import ContainerInfo, Message
from .index import ID_PREFIX, Entry, norm_id, norm_ip, norm_name

__all__ = [
    "Held",
    "PendingQuery",
    "WaitIndex",
    "Waiter",
    "from_pod_path",
    "message_keys",
    "query_keys",
]

#: the label a container log file's path gives its container's name under
POD_CONTAINER_LABEL = "io.kubernetes.container.name"


def from_pod_path(c: ContainerInfo) -> bool:
    """A container known only from a log file's path in the Kubernetes layout (the file
    collector's ``format: cri`` / ``docker-json``): its name is the pod's container name,
    not the engine's, and it has no image yet."""
    return not c.image and bool(c.labels) and c.labels.get(POD_CONTAINER_LABEL) == c.name


Key = tuple[str, str]  # ("id" | "name" | "ip", value)


class Waiter:
    __slots__ = ("deadline", "done", "keys", "seq")

    def __init__(self, keys: tuple[Key, ...], deadline: float) -> None:
        self.keys = keys
        self.deadline = deadline
        self.done = False
        self.seq = 0  # arrival order, set by WaitIndex.add


class PendingQuery(Waiter):
    """A Back-channel query waiting for its container (or its timeout)."""

    __slots__ = ("future", "query", "started", "timer")

    def __init__(
        self,
        query: ContainerQuery,
        keys: tuple[Key, ...],
        future: asyncio.Future[object],
        started: float,
    ) -> None:
        super().__init__(keys, started + query.timeout)
        self.query = query
        self.future = future
        self.started = started
        self.timer: asyncio.TimerHandle | None = None


class Held(Waiter):
    """A message waiting (up to ``wait``) for the container it names."""

    __slots__ = ("msg",)

    def __init__(self, msg: Message, keys: tuple[Key, ...], deadline: float) -> None:
        super().__init__(keys, deadline)
        self.msg = msg


W = TypeVar("W", bound=Waiter)


def _bucket(key: Key) -> Key:
    kind, value = key
    return (kind, value[:ID_PREFIX]) if kind == "id" else key


class WaitIndex(Generic[W]):
    """Waiters by key; each bucket is an insertion-ordered dict (O(1) removal)."""

    def __init__(self) -> None:
        self._by: dict[Key, dict[W, None]] = {}
        self._all: dict[W, None] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[W]:
        return iter(list(self._all))

    def add(self, w: W) -> None:
        self._seq += 1
        w.seq = self._seq
        self._all[w] = None
        for k in w.keys:
            self._by.setdefault(_bucket(k), {})[w] = None

    def discard(self, w: W) -> bool:
        """Remove ``w``; False when it was not there (already taken)."""
        if w not in self._all:
            return False
        del self._all[w]
        for k in w.keys:
            b = _bucket(k)
            bucket = self._by.get(b)
            if bucket is not None:
                bucket.pop(w, None)
                if not bucket:
                    del self._by[b]
        return True

    def take(self, entry: Entry, cid: str) -> list[W]:
        """Remove and return (in arrival order) the waiters that ``entry`` answers."""
        found: dict[W, None] = {}
        bucket = self._by.get(("id", cid[:ID_PREFIX]))
        if bucket:
            for w in bucket:
                if any(k == "id" and cid.startswith(v) for k, v in w.keys):
                    found[w] = None
        if entry.name:
            found.update(self._by.get(("name", entry.name), {}))
        for ip in entry.ips:
            found.update(self._by.get(("ip", ip), {}))
        out = sorted(found, key=lambda w: w.seq)
        for w in out:
            self.discard(w)
        return out

    def keys_count(self) -> int:
        return sum(map(len, self._by.values()))


def query_keys(q: ContainerQuery) -> tuple[Key, ...]:
    """The usable keys of a query (empty ones never match anything)."""
    return _keys(norm_id(q.id), norm_name(q.name), norm_ip(q.ip))


def message_keys(m: Message) -> tuple[Key, ...]:
    """What identifies a message's container, strongest first (normalised keys).

    ``container.id`` / ``fields.container_id`` (docker-logs, GELF ``_container_id``),
    ``container.name`` / ``fields.container_name`` (GELF ``_container_name``) and
    ``fields.remote_ip`` (the tcp and gelf collectors: the sender's address).  A container
    log file's pod metadata (:func:`from_pod_path`) is looked up by its id only.
    """
    c = m.container
    f = m.fields
    if c is None:
        if not f:
            return ()
        cid_v = f.get("container_id")
        name_v = f.get("container_name")
        ip = f.get("remote_ip")
        if cid_v is None and name_v is None:
            # the common case (a tcp/gelf line): only the sender's address
            if type(ip) is not str or not ip:
                return ()
            if ip[0] == ":" or ip[-1] == " " or ip[0] == " ":
                ip = norm_ip(ip)
                if not ip:
                    return ()
            return (("ip", ip),)
        return _keys(norm_id(cid_v), norm_name(name_v), norm_ip(ip))
    cid = norm_id(c.id) if c.id else ""
    if from_pod_path(c):  # only its id (from the kubelet's link) names an engine container
        return (("id", cid),) if cid else ()
    name = c.name
    if f:
        if not cid:
            cid = norm_id(f.get("container_id"))
        if not name:
            name = norm_name(f.get("container_name"))
        ip = norm_ip(f.get("remote_ip"))
    else:
        ip = ""
    return _keys(cid, name, ip)


def _keys(cid: str, name: str, ip: str) -> tuple[Key, ...]:
    out: list[Key] = []
    if cid:
        out.append(("id", cid))
    if name:
        out.append(("name", name))
    if ip:
        out.append(("ip", ip))
    return tuple(out)


def describe_keys(keys: Iterable[Key]) -> str:
    """The seed's way to name a request: ``/name``, an id or an address."""
    for kind, value in keys:
        return "/" + value if kind == "name" else value
    return "(nothing)"
