"""The container index on its own: keys, prefixes, states, eviction, O(1) lookups."""

from __future__ import annotations

import pytest

from qframe.message import ContainerInfo
from qframe.plugins.filters.inventory.index import ContainerIndex

from .events import cid_for, info


def started(*cs: ContainerInfo, now: float = 0.0) -> ContainerIndex:
    idx = ContainerIndex()
    for c in cs:
        idx.apply("start", c, now)
    return idx


def test_a_started_container_is_found_by_full_id_name_and_ip() -> None:
    c = info("web1", "10.88.0.5")
    idx = started(c)
    for e in (idx.by_id(c.id), idx.by_name("web1"), idx.by_ip("10.88.0.5")):
        assert e is not None and e.info is c


def test_a_name_matches_with_or_without_the_leading_slash() -> None:
    idx = started(info("web1"))
    assert idx.by_name("/web1") is idx.by_name("web1") is not None
    assert idx.by_name("web") is None
    assert idx.by_name("//web1x") is None


def test_id_prefixes_of_twelve_characters_or_more_match_and_shorter_ones_never() -> None:
    c = info("web1")
    idx = started(c)
    for n in (12, 13, 30, 63, 64):
        assert idx.by_id(c.id[:n]) is not None, n
    assert idx.by_id(c.id[:12].upper()) is not None
    assert idx.by_id(c.id[:11]) is None
    assert idx.by_id(c.id[:4]) is None
    assert idx.by_id(c.id[:12] + "x") is None


def test_every_ip_of_a_container_on_several_networks_matches() -> None:
    c = info("multi", ips={"front": "10.88.0.7", "back": "10.89.0.3", "v6": "fd00::7"})
    idx = started(c)
    for ip in ("10.88.0.7", "10.89.0.3", "fd00::7", "::ffff:10.88.0.7"):
        e = idx.by_ip(ip)
        assert e is not None and e.info.name == "multi", ip
    assert idx.by_ip("10.88.0.8") is None


def test_empty_keys_never_match_even_containers_without_name_or_ip() -> None:
    idx = started(ContainerInfo(id=cid_for("anon")))
    assert len(idx) == 1
    assert idx.find() is None
    assert idx.find(id="", name="", ip="") is None
    assert idx.by_name("") is None and idx.by_name("/") is None
    assert idx.by_ip("") is None
    assert idx.by_id("") is None


def test_find_tries_id_then_name_then_ip() -> None:
    a, b = info("a", "10.88.0.2"), info("b", "10.88.0.3")
    idx = started(a, b)
    e = idx.find(id=a.id, name="b")
    assert e is not None and e.info is a
    e = idx.find(id=cid_for("nobody"), name="b")
    assert e is not None and e.info is b
    e = idx.find(name="nobody", ip="10.88.0.2")
    assert e is not None and e.info is a


def test_a_container_that_was_only_created_does_not_match_until_it_starts() -> None:
    c = info("late")
    idx = ContainerIndex()
    assert idx.apply("create", c, 0.0) is None
    assert len(idx) == 1
    assert idx.by_name("late") is None and idx.by_id(c.id) is None
    assert idx.apply("start", c, 1.0) is not None
    assert idx.by_name("late") is not None


def test_the_running_events_sent_at_collector_start_make_containers_known() -> None:
    idx = ContainerIndex()
    assert idx.apply("running", info("old"), 0.0) is not None
    e = idx.by_name("old")
    assert e is not None and e.state == "running"


def test_a_stopped_container_still_matches_and_keeps_its_ip() -> None:
    c = info("web1", "10.88.0.5")
    idx = started(c)
    # the die event carries no address any more
    idx.apply("die", info("web1", ips={}), 1.0)
    e = idx.by_ip("10.88.0.5")
    assert e is not None and e.state == "stopped"


def test_a_removed_container_resolves_during_the_grace_period_then_is_evicted() -> None:
    c = info("web1", "10.88.0.5")
    idx = started(c)
    idx.apply("destroy", c, now=100.0)
    assert idx.by_name("web1") is not None
    assert idx.evict(now=100.0 + 299.0, retain=300.0) == []
    assert idx.by_ip("10.88.0.5") is not None
    evicted = idx.evict(now=100.0 + 300.0, retain=300.0)
    assert [e.info.name for e in evicted] == ["web1"]
    assert idx.find(id=c.id, name="web1", ip="10.88.0.5") is None
    assert len(idx) == 0 and idx.key_count() == 0


def test_podmans_remove_action_counts_like_dockers_destroy() -> None:
    idx = started(info("p1"))
    idx.apply("remove", info("p1"), now=5.0)
    assert idx.gone == 1
    assert len(idx.evict(now=6.0, retain=1.0)) == 1


def test_late_events_after_removal_do_not_revive_the_container() -> None:
    c = info("web1")
    idx = started(c)
    idx.apply("destroy", c, 10.0)
    idx.apply("cleanup", c, 11.0)
    e = idx.by_name("web1")
    assert e is not None and e.state == "gone"
    assert len(idx.evict(20.0, 5.0)) == 1


def test_a_new_container_under_a_removed_ones_name_wins_the_name() -> None:
    old, new = info("web", "10.88.0.5", cid=cid_for("old")), info("web", cid=cid_for("new"))
    idx = started(old)
    idx.apply("destroy", old, 1.0)
    idx.apply("start", new, 2.0)
    e = idx.by_name("web")
    assert e is not None and e.info is new
    # the old one still answers to its own id and address until evicted
    assert idx.by_id(old.id) is not None and idx.by_ip("10.88.0.5") is not None
    idx.evict(1000.0, 300.0)
    e = idx.by_name("web")
    assert e is not None and e.info is new
    assert idx.by_id(old.id) is None


def test_an_address_handed_to_a_new_container_resolves_to_the_running_one() -> None:
    a, b = info("a", "10.88.0.9"), info("b", "10.88.0.9")
    idx = started(a)
    idx.apply("die", a, 1.0)
    idx.apply("start", b, 2.0)
    e = idx.by_ip("10.88.0.9")
    assert e is not None and e.info.name == "b"


def test_a_rename_moves_the_name_key() -> None:
    c = info("before")
    idx = started(c)
    renamed = ContainerInfo.from_dict({**c.to_dict(), "name": "after"})
    idx.apply("rename", renamed, 1.0)
    assert idx.by_name("before") is None
    e = idx.by_name("after")
    assert e is not None and e.info.image == c.image


def test_an_update_with_less_information_keeps_what_was_known() -> None:
    c = info("web1", "10.88.0.5")
    idx = started(c)
    idx.apply("health_status", ContainerInfo(id=c.id, name="web1"), 1.0)
    e = idx.by_name("web1")
    assert e is not None and e.info is c  # nothing new: the same shared object


def test_an_event_without_a_usable_id_is_refused() -> None:
    idx = ContainerIndex()
    with pytest.raises(ValueError):
        idx.apply("start", ContainerInfo(id="abc", name="x"), 0.0)
    assert len(idx) == 0


@pytest.mark.parametrize("size", [10, 1000])
def test_lookups_examine_a_constant_number_of_entries_whatever_the_size(size: int) -> None:
    idx = ContainerIndex()
    cs = [info(f"c{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") for i in range(size)]
    for c in cs:
        idx.apply("start", c, 0.0)
    sample = cs[:: max(1, size // 10)][:10]
    idx.probes = 0
    for c in sample:
        for e in (
            idx.by_id(c.id),
            idx.by_id(c.id[:12]),
            idx.by_id(c.id[:20]),
            idx.by_name(c.name),
            idx.by_name("/" + c.name),
            idx.by_ip(c.ips["podman"]),
        ):
            assert e is not None and e.info is c
    # six lookups per container, each examining exactly one entry: no scan
    assert idx.probes == 6 * len(sample)
    idx.probes = 0
    assert idx.find(id=cid_for("missing"), name="missing", ip="192.0.2.1") is None
    assert idx.probes == 0


def test_a_thousand_containers_come_and_go_and_nothing_is_left_behind() -> None:
    idx = ContainerIndex()
    cs = [info(f"c{i}", f"10.88.{i // 256}.{i % 256}") for i in range(1000)]
    for c in cs:
        idx.apply("start", c, 0.0)
    assert len(idx) == 1000
    assert idx.key_count() == 1000 * 4  # id, prefix, name, ip
    for c in cs:
        idx.apply("destroy", c, 10.0)
    assert len(idx.evict(10.0 + 300.0, 300.0)) == 1000
    assert len(idx) == 0 and idx.key_count() == 0
