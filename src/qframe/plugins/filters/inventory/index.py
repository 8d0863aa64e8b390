"""The container index: every known container, found by id, id prefix, name or IP in O(1).

Pure and synchronous (no I/O, no clock of its own: callers pass ``now``), so that it is
tested directly.  A container is *matchable* once it has started (a container that was
only created has no process, no IP and writes no lines); it stays matchable while it runs,
after it stopped, and for ``retain`` seconds after it was destroyed/removed, so that late
lines still resolve.  Then it is evicted: memory is proportional to the containers that
exist (plus those in their grace period).

Several entries may share a name or an IP over time (a container removed and re-created
under the same name; an address handed to a new container).  A lookup then prefers a
running container, then a stopped one, then one in its grace period, and among equals the
most recently updated.
"""

from __future__ import annotations

from collections.abc import Iterator

from ....message import ContainerInfo

__all__ = [
    "GONE",
    "ID_PREFIX",
    "RUNNING",
    "STOPPED",
    "ContainerIndex",
    "Entry",
    "norm_id",
    "norm_ip",
    "norm_name",
]

#: the shortest id prefix that matches (Docker's short id)
ID_PREFIX = 12

CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"
GONE = "gone"
_RANK = {RUNNING: 3, STOPPED: 2, GONE: 1, CREATED: 0}

#: docker-events actions and the state they leave the container in
_STARTS = frozenset({"start", "running", "restart", "unpause", "pause", "health_status"})
_STOPS = frozenset({"die", "stop", "died", "exited", "cleanup"})
_ENDS = frozenset({"destroy", "remove"})


def norm_id(v: object) -> str:
    """A usable id key (lowercase, ≥ 12 characters) or ``""``."""
    if not isinstance(v, str):
        return ""
    v = v.strip().lower()
    return v if len(v) >= ID_PREFIX else ""


def norm_name(v: object) -> str:
    """A name without the leading ``/`` Docker gives it, or ``""``."""
    if not isinstance(v, str):
        return ""
    return v.strip().lstrip("/")


def norm_ip(v: object) -> str:
    """An address as the inventory keys it: IPv4-mapped IPv6 (``::ffff:a.b.c.d``) unwrapped."""
    if not isinstance(v, str):
        return ""
    v = v.strip()
    if v.startswith("::ffff:") and "." in v:
        v = v[7:]
    return v


class Entry:
    """One container: its info, its state, and when it went away (``gone_at``)."""

    __slots__ = ("gone_at", "info", "ips", "name", "seq", "state")

    def __init__(self, info: ContainerInfo, state: str, seq: int) -> None:
        self.info = info
        self.state = state
        self.seq = seq
        self.gone_at: float | None = None
        self.name = ""  # the indexed keys, to unindex exactly what was indexed
        self.ips: tuple[str, ...] = ()

    @property
    def matchable(self) -> bool:
        return self.state != CREATED

    @property
    def rank(self) -> tuple[int, int]:
        return (_RANK[self.state], self.seq)

    def to_dict(self) -> dict[str, object]:
        return {"state": self.state, **self.info.to_dict()}


class ContainerIndex:
    """Containers by full id, 12-character prefix, name and every IP address."""

    def __init__(self) -> None:
        self._by_id: dict[str, Entry] = {}
        self._by_prefix: dict[str, list[str]] = {}
        self._by_name: dict[str, list[str]] = {}
        self._by_ip: dict[str, list[str]] = {}
        self._gone: dict[str, float] = {}  # id -> gone_at, oldest first
        self._seq = 0
        #: entries examined by lookups (tests count it to show lookups are O(1))
        self.probes = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._by_id.values()))

    @property
    def gone(self) -> int:
        return len(self._gone)

    def key_count(self) -> int:
        """Keys held in every index (for tests of memory staying proportional)."""
        return (
            len(self._by_id)
            + sum(map(len, self._by_prefix.values()))
            + sum(map(len, self._by_name.values()))
            + sum(map(len, self._by_ip.values()))
            + len(self._gone)
        )

    # -- updates -------------------------------------------------------------------------
    def apply(self, action: str, info: ContainerInfo, now: float) -> Entry | None:
        """Apply one docker-events action for ``info`` (whose ``id`` must be set).

        Returns the entry when it is matchable afterwards (so waiters may be answered).
        """
        cid = norm_id(info.id)
        if not cid:
            raise ValueError(f"container event without a usable id: {info.id!r}")
        entry = self._by_id.get(cid)
        if action in _ENDS:
            if entry is None:
                # never seen alive: remember it for the grace period all the same
                entry = self._insert(cid, info, STOPPED)
            else:
                self._update(entry, info)
            if entry.gone_at is None:
                entry.state = GONE
                entry.gone_at = now
                self._gone[cid] = now
            return entry
        if entry is None:
            state = CREATED if action == "create" else STOPPED if action in _STOPS else RUNNING
            entry = self._insert(cid, info, state)
        else:
            self._update(entry, info)
            if entry.state == GONE:
                if action not in _STARTS:
                    return entry  # a late event about a removed container
                entry.gone_at = None
                self._gone.pop(cid, None)
            if action in _STARTS:
                entry.state = RUNNING
            elif action in _STOPS:
                entry.state = STOPPED
            elif entry.state == GONE:
                entry.state = STOPPED
        return entry if entry.matchable else None

    def evict(self, now: float, retain: float) -> list[Entry]:
        """Forget containers gone for ``retain`` seconds or more; return them."""
        out: list[Entry] = []
        limit = now - retain
        for cid, at in list(self._gone.items()):
            if at > limit:
                continue
            del self._gone[cid]
            entry = self._by_id.pop(cid, None)
            if entry is not None:
                self._unindex(cid, entry)
                out.append(entry)
        return out

    def _insert(self, cid: str, info: ContainerInfo, state: str) -> Entry:
        self._seq += 1
        entry = Entry(info, state, self._seq)
        self._by_id[cid] = entry
        self._by_prefix.setdefault(cid[:ID_PREFIX], []).append(cid)
        self._index_keys(cid, entry)
        return entry

    def _update(self, entry: Entry, info: ContainerInfo) -> None:
        """Merge ``info`` over what is known: non-empty parts win, earlier IPs are kept
        when the new info has none (a stopped container's late lines still resolve)."""
        self._seq += 1
        entry.seq = self._seq
        old = entry.info
        old_d = old.to_dict()
        new = info.to_dict()
        if all(old_d.get(k) == v for k, v in new.items()):
            return  # nothing new: keep the shared object
        merged = {**old_d, **new}
        merged["id"] = old.id or info.id
        entry.info = ContainerInfo.from_dict(merged)
        cid = norm_id(entry.info.id)
        if entry.name != entry.info.name or entry.ips != tuple(entry.info.ips.values()):
            self._unindex_keys(cid, entry)
            self._index_keys(cid, entry)

    def _index_keys(self, cid: str, entry: Entry) -> None:
        info = entry.info
        entry.name = info.name
        entry.ips = tuple(ip for ip in (norm_ip(v) for v in info.ips.values()) if ip)
        if entry.name:
            _add(self._by_name, entry.name, cid)
        for ip in entry.ips:
            _add(self._by_ip, ip, cid)

    def _unindex_keys(self, cid: str, entry: Entry) -> None:
        if entry.name:
            _remove(self._by_name, entry.name, cid)
        for ip in entry.ips:
            _remove(self._by_ip, ip, cid)
        entry.name = ""
        entry.ips = ()

    def _unindex(self, cid: str, entry: Entry) -> None:
        self._unindex_keys(cid, entry)
        _remove(self._by_prefix, cid[:ID_PREFIX], cid)

    # -- lookups -------------------------------------------------------------------------
    def get(self, cid: str) -> Entry | None:
        return self._by_id.get(cid)

    def by_id(self, key: str) -> Entry | None:
        """Full id or a prefix of at least 12 characters."""
        key = norm_id(key)
        if not key:
            return None
        entry = self._by_id.get(key)
        if entry is not None:
            self.probes += 1
            return entry if entry.matchable else None
        cands = self._by_prefix.get(key[:ID_PREFIX])
        if not cands:
            return None
        return self._best(c for c in cands if c.startswith(key))

    def by_name(self, key: str) -> Entry | None:
        key = norm_name(key)
        return self.resolve("name", key) if key else None

    def by_ip(self, key: str) -> Entry | None:
        key = norm_ip(key)
        return self.resolve("ip", key) if key else None

    def resolve(self, kind: str, key: str) -> Entry | None:
        """Look up an already normalised, non-empty key (``norm_*``): the hot path."""
        if kind == "ip":
            ids = self._by_ip.get(key)
        elif kind == "name":
            ids = self._by_name.get(key)
        else:
            return self.by_id(key)
        if not ids:
            return None
        if len(ids) == 1:
            self.probes += 1
            e = self._by_id[ids[0]]
            return e if e.state != CREATED else None
        return self._best(ids)

    def find(self, id: str = "", name: str = "", ip: str = "") -> Entry | None:
        """The first key given that matches (id, then name, then IP); empty keys never match."""
        return (
            (self.by_id(id) if id else None)
            or (self.by_name(name) if name else None)
            or (self.by_ip(ip) if ip else None)
        )

    def _best(self, ids: Iterator[str] | list[str] | tuple[()]) -> Entry | None:
        best: Entry | None = None
        for cid in ids:
            e = self._by_id[cid]
            self.probes += 1
            if e.matchable and (best is None or e.rank > best.rank):
                best = e
        return best


def _add(index: dict[str, list[str]], key: str, cid: str) -> None:
    ids = index.setdefault(key, [])
    if cid not in ids:
        ids.append(cid)


def _remove(index: dict[str, list[str]], key: str, cid: str) -> None:
    ids = index.get(key)
    if ids is None:
        return
    try:
        ids.remove(cid)
    except ValueError:
        return
    if not ids:
        del index[key]
