"""Enrichment on the data path: messages from other inputs get their container."""

from __future__ import annotations

from qframe.message import ContainerInfo, Message
from qframe.testing import Harness, wait_until

from .conftest import pipeline
from .events import cid_for, event, info, log_line

MISS = "_inventory_miss"


async def start(h: Harness, *cs: ContainerInfo) -> None:
    inv = h.plugin("inventory")
    n = len(inv.index)
    await h.plugin("docker-events").send([event("start", c) for c in cs])
    await wait_until(lambda: len(inv.index) == n + len(cs))


def lines(h: Harness) -> list[Message]:
    return [m for m in h.captured("out") if m.kind == "log"]


async def test_a_line_is_enriched_by_remote_ip_container_id_or_container_name(
    harness: Harness,
) -> None:
    c = info("web1", "10.88.0.5")
    await start(harness, c)
    await harness.plugin("tcp").send(
        [
            log_line("by ip", remote_ip="10.88.0.5"),
            log_line("by mapped ip", remote_ip="::ffff:10.88.0.5"),
            log_line("by gelf id", container_id=c.id),
            log_line("by gelf name", container_name="/web1"),
            Message("by lean container", container=ContainerInfo(id=c.id[:12])),
            Message("by container name", container=ContainerInfo(name="web1")),
        ]
    )
    await wait_until(lambda: len(lines(harness)) == 6)
    for m in lines(harness):
        assert m.container is not None, m.message
        assert m.container.name == "web1" and m.container.image == c.image, m.message
        assert m.container.ips == {"podman": "10.88.0.5"}
        assert MISS not in m.tags
    inv = harness.plugin("inventory")
    assert inv.metrics.counter("enriched", by="ip") == 2
    assert inv.metrics.counter("enriched", by="id") == 2
    assert inv.metrics.counter("enriched", by="name") == 2


async def test_lines_without_any_container_key_pass_untouched_and_untagged(
    harness: Harness,
) -> None:
    await harness.plugin("tcp").send(
        [log_line("plain"), log_line("empty keys", remote_ip="", container_id="", x=1)]
    )
    await wait_until(lambda: len(lines(harness)) == 2)
    for m in lines(harness):
        assert m.container is None and m.tags == []


async def test_a_line_from_an_unknown_sender_waits_without_holding_up_the_others(
    harness: Harness,
) -> None:
    await harness.plugin("tcp").send([log_line("early", remote_ip="10.88.0.7")])
    inv = harness.plugin("inventory")
    await wait_until(lambda: len(inv.held) == 1)
    await harness.plugin("tcp").send([log_line("other")])
    await wait_until(lambda: [m.message for m in lines(harness)] == ["other"])
    await start(harness, info("latecomer", "10.88.0.7"))
    await wait_until(lambda: len(lines(harness)) == 2)
    m = lines(harness)[1]
    assert m.message == "early"
    assert m.container is not None and m.container.name == "latecomer"
    assert MISS not in m.tags
    assert len(inv.held) == 0 and inv.held.keys_count() == 0


async def test_held_lines_for_the_same_container_keep_their_order(harness: Harness) -> None:
    await harness.plugin("tcp").send(
        [log_line(f"l{i}", container_name="ordered") for i in range(50)]
    )
    inv = harness.plugin("inventory")
    await wait_until(lambda: len(inv.held) == 50)
    await start(harness, info("ordered"))
    await wait_until(lambda: len(lines(harness)) == 50)
    assert [m.message for m in lines(harness)] == [f"l{i}" for i in range(50)]


async def test_a_line_whose_container_never_appears_goes_on_tagged_with_its_ack() -> None:
    async with Harness(pipeline(wait="200ms")) as h:
        await h.plugin("tcp").send([log_line("lost?", remote_ip="10.88.0.77", n=1)])
        await wait_until(lambda: len(lines(h)) == 1, what="released after the wait")
        m = lines(h)[0]
        assert MISS in m.tags
        assert m.container is None
        assert m.fields == {"remote_ip": "10.88.0.77", "n": 1}  # otherwise untouched
        tcp = h.plugin("tcp")
        await wait_until(lambda: tcp.acked == tcp.sent == 1, what="delivery acknowledged")
        inv = h.plugin("inventory")
        assert inv.metrics.counter("missed", reason="timeout") == 1
        assert len(inv.held) == 0 and inv.held.keys_count() == 0  # nothing left behind


async def test_loopback_senders_are_never_waited_for(harness: Harness) -> None:
    await harness.plugin("tcp").send([log_line("local", remote_ip="127.0.0.1")])
    await wait_until(lambda: len(lines(harness)) == 1)
    assert MISS in lines(harness)[0].tags
    assert len(harness.plugin("inventory").held) == 0


async def test_a_line_that_came_with_its_full_container_does_not_wait(harness: Harness) -> None:
    own = ContainerInfo(id=cid_for("x"), name="x", image="img")
    await harness.plugin("tcp").send([Message("complete", container=own)])
    await wait_until(lambda: len(lines(harness)) == 1)
    m = lines(harness)[0]
    assert m.container is own and m.tags == []


async def test_when_too_many_lines_wait_the_next_ones_go_on_at_once_tagged() -> None:
    async with Harness(pipeline(**{"max-held": 3, "wait": "1m"})) as h:
        await h.plugin("tcp").send([log_line(f"l{i}", remote_ip="10.88.0.50") for i in range(5)])
        await wait_until(lambda: len(lines(h)) == 2)
        assert [m.message for m in lines(h)] == ["l3", "l4"]
        assert all(MISS in m.tags for m in lines(h))
        assert len(h.plugin("inventory").held) == 3


async def test_with_wait_zero_unknown_lines_go_on_at_once() -> None:
    async with Harness(pipeline(wait="0s")) as h:
        await h.plugin("tcp").send([log_line("now", container_id=cid_for("q"))])
        await wait_until(lambda: len(lines(h)) == 1)
        assert MISS in lines(h)[0].tags


async def test_held_lines_are_delivered_tagged_at_shutdown_and_acknowledged() -> None:
    h = Harness(pipeline(wait="1h"))
    await h.pipeline.start()
    await h.plugin("tcp").send([log_line(f"l{i}", remote_ip="10.88.0.60") for i in range(4)])
    await wait_until(lambda: len(h.plugin("inventory").held) == 4)
    assert await h.pipeline.shutdown(timeout=10)
    out = lines(h)
    assert [m.message for m in out] == ["l0", "l1", "l2", "l3"]
    assert all(MISS in m.tags for m in out)
    assert h.plugin("tcp").acked == 4


async def test_container_events_pass_through_and_bad_ones_are_counted_not_fatal(
    harness: Harness,
) -> None:
    bad = Message(
        "?: container.start",
        kind="event",
        fields={"action": "start", "type": "container", "actor_id": "short"},
    )
    good = event("start", info("fine", "10.88.0.10"))
    by_attrs = Message(
        "attrs: container.start",
        kind="event",
        fields={
            "action": "start",
            "type": "container",
            "actor_id": cid_for("attrs"),
            "attributes": {"name": "attrs", "image": "img:1"},
        },
    )
    await harness.plugin("docker-events").send([bad, good, by_attrs])
    await wait_until(lambda: len(harness.captured("out")) == 3)
    assert [m.message for m in harness.captured("out")] == [
        "?: container.start",
        "fine: container.start",
        "attrs: container.start",
    ]
    inv = harness.plugin("inventory")
    assert inv.metrics.counter("rejected", reason="event_without_id") == 1
    e = inv.index.by_name("attrs")
    assert e is not None and e.info.image == "img:1"
    assert inv.index.by_ip("10.88.0.10") is not None


async def test_actions_with_a_detail_after_a_colon_are_understood(harness: Harness) -> None:
    c = info("healthy", "10.88.0.11")
    events = harness.plugin("docker-events")
    inv = harness.plugin("inventory")
    await events.send([event("create", c), event("exec_start: sh -c true", c)])
    await wait_until(lambda: len(harness.captured("out")) == 2)
    e = inv.index.get(c.id)
    assert e is not None and e.state == "created"
    await events.send([event("health_status: healthy", c), event("exec_die: sh", c)])
    await wait_until(lambda: len(harness.captured("out")) == 4)
    assert e.state == "running"  # health checks run in running containers; exec_die is no die
    await events.send([event("die", c)])
    await wait_until(lambda: len(harness.captured("out")) == 5)
    assert e.state == "stopped"


async def test_a_malformed_message_goes_on_tagged_and_the_others_are_enriched(
    harness: Harness,
) -> None:
    await start(harness, info("web1", "10.88.0.5"))
    odd = Message("odd", fields=["not", "a", "dict"])  # type: ignore[arg-type]
    await harness.plugin("tcp").send(
        [log_line("a", remote_ip="10.88.0.5"), odd, log_line("b", remote_ip="10.88.0.5")]
    )
    await wait_until(lambda: len(lines(harness)) == 3)
    assert [m.message for m in lines(harness)] == ["a", "odd", "b"]
    assert "_filtererror" in lines(harness)[1].tags
    assert all(m.container is not None for m in (lines(harness)[0], lines(harness)[2]))
    assert harness.plugin("inventory").metrics.errors == 1


async def test_pod_metadata_of_a_container_log_file_is_enriched_by_its_id_only(
    harness: Harness,
) -> None:
    """A container log file's line (file format: cri) carries pod metadata from its path:
    the inventory attaches the engine's container found by the id (the kubelet's link
    has it), keeping the pod labels; the pod's container name never matches an engine
    container of that name; without an id the line passes untouched, unwaited."""
    from qframe.plugins.collectors.file.cri import pod_container

    engine = info("shop-web-app", "10.88.0.7")
    namesake = info("app", "10.88.0.8")  # an engine container named like the pod's one
    await start(harness, engine, namesake)
    link = f"/var/log/containers/web-7d9f_shop_app-{engine.id}.log"
    by_link = pod_container(link)
    by_dir = pod_container("/var/log/pods/shop_web-7d9f_0a1b/app/0.log")
    assert by_link is not None and by_dir is not None and by_dir.name == "app"
    msgs = [Message(f"line {i}", container=by_link, fields={"stream": "stdout"}) for i in range(3)]
    msgs.append(Message("no id", container=by_dir, fields={"stream": "stdout"}))
    await harness.plugin("tcp").send(msgs)
    await wait_until(lambda: len(lines(harness)) == 4)
    *enriched, plain = lines(harness)
    for m in enriched:
        c = m.container
        assert c is not None and c.id == engine.id and c.image == engine.image
        assert c.name == "shop-web-app" and c.ips == {"podman": "10.88.0.7"}
        assert c.labels == {**engine.labels, **by_link.labels}
        assert c.labels["io.kubernetes.container.name"] == "app" and MISS not in m.tags
    assert enriched[0].container is enriched[1].container is enriched[2].container
    assert plain.container is by_dir and plain.tags == []
    inv = harness.plugin("inventory")
    assert inv.metrics.counter("enriched", by="id") == 3
    assert inv.metrics.counter("enriched", by="name") == 0


async def test_a_container_log_line_waiting_for_its_container_keeps_its_pod_labels(
    harness: Harness,
) -> None:
    from qframe.plugins.collectors.file.cri import pod_container

    late = info("shop-db-pg", "10.88.0.9")
    pod = pod_container(f"/var/log/containers/db-0_shop_pg-{late.id}.log")
    assert pod is not None
    await harness.plugin("tcp").send([Message("early", container=pod)])
    inv = harness.plugin("inventory")
    await wait_until(lambda: len(inv.held) == 1)
    await start(harness, late)
    await wait_until(lambda: len(lines(harness)) == 1)
    (m,) = lines(harness)
    assert m.container is not None and m.container.image == late.image
    assert m.container.labels == {**late.labels, **pod.labels} and MISS not in m.tags
    assert inv.metrics.counter("enriched", by="wait") == 1
