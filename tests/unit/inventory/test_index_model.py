"""The index's bookkeeping against a naive model that scans every container.

Random event sequences over a few containers that share names and addresses (reuse,
renames, removals, evictions): every lookup by name, IP and id prefix must agree with
a linear scan that applies the same preference (running > stopped > gone, then the
most recently updated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.message import ContainerInfo
from qframe.plugins.filters.inventory.index import ContainerIndex

from .events import cid_for

IDS = [cid_for(f"c{i}") for i in range(5)]
NAMES = ["", "web", "db", "cache"]
IPS = ["10.88.0.2", "10.88.0.3", "10.88.0.4"]
ACTIONS = ["create", "start", "running", "die", "stop", "destroy", "remove", "rename", "kill"]
RANK = {"running": 3, "stopped": 2, "gone": 1, "created": 0}
STARTS = {"start", "running"}
STOPS = {"die", "stop"}
ENDS = {"destroy", "remove"}


@dataclass
class Naive:
    state: str
    seq: int
    name: str = ""
    ips: tuple[str, ...] = ()
    gone_at: float | None = None


@dataclass
class Model:
    entries: dict[str, Naive] = field(default_factory=dict)
    seq: int = 0

    def _touch(self, cid: str, state: str, name: str, ips: tuple[str, ...]) -> Naive:
        self.seq += 1
        e = self.entries.get(cid)
        if e is None:
            e = self.entries[cid] = Naive(state, self.seq)
        e.seq = self.seq
        if name:
            e.name = name
        if ips:
            e.ips = ips
        return e

    def apply(self, action: str, cid: str, name: str, ips: tuple[str, ...], now: float) -> None:
        known = cid in self.entries
        if action in ENDS:
            e = self._touch(cid, "stopped", name, ips)
            if e.gone_at is None:
                e.state, e.gone_at = "gone", now
            return
        new_state = "created" if action == "create" else "stopped" if action in STOPS else "running"
        e = self._touch(cid, new_state, name, ips)
        if not known:
            return
        if e.state == "gone":
            if action not in STARTS:
                return
            e.gone_at = None
        if action in STARTS:
            e.state = "running"
        elif action in STOPS or e.state == "gone":
            e.state = "stopped"

    def evict(self, now: float, retain: float) -> None:
        for cid in [
            c
            for c, e in self.entries.items()
            if e.gone_at is not None and e.gone_at <= now - retain
        ]:
            del self.entries[cid]

    def best(self, pred: object) -> str | None:
        cands = [
            (RANK[e.state], e.seq, cid)
            for cid, e in self.entries.items()
            if e.state != "created" and pred(cid, e)  # type: ignore[operator]
        ]
        return max(cands)[2] if cands else None


op = st.tuples(
    st.sampled_from(ACTIONS),
    st.sampled_from(IDS),
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(IPS), max_size=2, unique=True),
    st.booleans(),  # evict after this step
)


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=40))
def test_lookups_agree_with_a_linear_scan_after_any_event_sequence(
    ops: list[tuple[str, str, str, list[str], bool]],
) -> None:
    idx = ContainerIndex()
    model = Model()
    now = 0.0
    for action, cid, name, ips, evict in ops:
        now += 1.0
        nets = {f"net{i}": ip for i, ip in enumerate(ips)}
        idx.apply(action, ContainerInfo(id=cid, name=name, ips=nets), now)
        model.apply(action, cid, name, tuple(ips), now)
        if evict:
            idx.evict(now, 3.0)
            model.evict(now, 3.0)
        assert len(idx) == len(model.entries)
        for n in NAMES[1:]:
            got = idx.by_name(n)
            assert (got.info.id if got else None) == model.best(lambda c, e, n=n: e.name == n)
        for ip in IPS:
            got = idx.by_ip(ip)
            assert (got.info.id if got else None) == model.best(lambda c, e, ip=ip: ip in e.ips)
        for cid_ in IDS:
            got = idx.by_id(cid_[:12])
            want = model.best(lambda c, e, p=cid_[:12]: c.startswith(p))
            assert (got.info.id if got else None) == want
    # nothing indexed that the model does not hold
    expected_keys = sum(1 + 1 + (1 if e.name else 0) + len(e.ips) for e in model.entries.values())
    expected_keys += sum(1 for e in model.entries.values() if e.gone_at is not None)
    assert idx.key_count() == expected_keys
