"""The influxdb handler against a real InfluxDB 1.6 (influxd)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qframe.message import ContainerInfo, Message, Metric
from qframe.testing import Harness
from tests.services.influxdb import Influxd

T0 = 1795669200  # 2026-11-26T05:00:00Z


def config(url: str, db: str, data_dir: Path, **handler: Any) -> dict[str, Any]:
    return {
        "tick": "0.1s",
        "data-dir": str(data_dir),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {
            "influx": {
                "kind": "influxdb",
                "inputs": ["src"],
                "url": url,
                "database": db,
                "retry-initial": "20ms",
                "retry-max": "200ms",
                "timeout": "5s",
                **handler,
            }
        },
    }


def stats(name: str, i: int, t: float, **fields: Any) -> Message:
    """A point shaped like the docker-stats filter's output."""
    labels = {
        "container_id": f"{i:064x}",
        "container_name": name,
        "image_name": "localhost/busybox:latest",
        "com_docker_compose_service": "web",
    }
    return Message(
        "",
        time=t,
        kind="metric",
        host="node1",
        labels=labels,
        metric=Metric(
            "docker_container_mem", fields or {"usage": 1843200 + i, "usage_percent": 0.5}
        ),
    )


async def test_docker_stats_metrics_land_as_series_with_the_container_tags(
    influx: Influxd, tmp_path: Path
) -> None:
    points = [stats(f"web{c}", c, T0 + s) for s in range(10) for c in range(3)]
    async with Harness(config(influx.url, "stats", tmp_path)) as h:
        await h.plugin("src").send(points)
        await h.wait_for(lambda: h.plugin("src").acked == 30, what="all acknowledged")
    series = influx.query("SELECT * FROM docker_container_mem GROUP BY *", "stats")
    assert len(series) == 3
    by_name = {s["tags"]["container_name"]: s for s in series}
    assert sorted(by_name) == ["web0", "web1", "web2"]
    s1 = by_name["web1"]
    assert s1["tags"] == {
        "com_docker_compose_service": "web",
        "container_id": f"{1:064x}",
        "container_name": "web1",
        "host": "node1",
        "image_name": "localhost/busybox:latest",
    }
    assert s1["columns"] == ["time", "usage", "usage_percent"]
    assert s1["values"][0] == [T0, 1843201, 0.5]
    assert len(s1["values"]) == 10
    keys = {row[0]: row[1] for row in influx.query("SHOW FIELD KEYS", "stats")[0]["values"]}
    assert keys == {"usage": "integer", "usage_percent": "float"}


async def test_spaces_commas_equals_signs_and_quotes_survive_the_round_trip(
    influx: Influxd, tmp_path: Path
) -> None:
    weird = ["a b", "a,b", "a=b", 'say "hi"', "back\\slash", 'x, y=z "q"', "line\nbreak"]
    points = [
        Message(
            "",
            time=T0 + i,
            kind="metric",
            labels={"tag key " + str(i): w, "i": str(i)},
            metric=Metric("m, =x", {"text": w, "f=k ,": i, "ok": i % 2 == 0, "ratio": i / 4}),
        )
        for i, w in enumerate(weird)
    ]
    async with Harness(config(influx.url, "esc", tmp_path)) as h:
        await h.plugin("src").send(points)
        await h.wait_for(lambda: h.plugin("src").acked == len(points))
    (meas,) = influx.query("SHOW MEASUREMENTS", "esc")
    assert meas["values"] == [["m, =x"]]
    rows = influx.points('SELECT * FROM "m, =x"', "esc")
    assert len(rows) == len(weird)
    for i, w in enumerate(weird):
        (row,) = [r for r in rows if r["i"] == str(i)]
        assert row["text"] == w  # string fields keep even newlines
        expected_tag = w.replace("\n", " ")  # line protocol has no newline in tags
        assert row["tag key " + str(i)] == expected_tag
        assert row["f=k ,"] == i
        assert row["ok"] is (i % 2 == 0)
        assert row["ratio"] == i / 4
    types = {r[0]: r[1] for r in influx.query('SHOW FIELD KEYS FROM "m, =x"', "esc")[0]["values"]}
    assert types == {"f=k ,": "integer", "ok": "boolean", "ratio": "float", "text": "string"}


async def test_a_server_down_for_a_while_loses_nothing(influx: Influxd, tmp_path: Path) -> None:
    cfg = config(influx.url, "outage", tmp_path, **{"batch-size": 100})
    async with Harness(cfg) as h:
        src, handler = h.plugin("src"), h.plugin("influx")
        await src.send([stats("web", 1, T0 + i) for i in range(500)])
        await h.wait_for(lambda: src.acked == 500)
        influx.stop()
        try:
            await src.send([stats("web", 1, T0 + i) for i in range(500, 1500)])
            await h.wait_for(lambda: handler.metrics.counter("requests", status="error") >= 3)
            assert src.acked == 500
            assert handler.metrics.state == "degraded"
        finally:
            influx.start_again()
        await h.wait_for(lambda: src.acked == 1500, timeout=30, what="all acknowledged")
        assert handler.metrics.state == "ok"
    (s,) = influx.query("SELECT count(usage) FROM docker_container_mem", "outage")
    assert s["values"][0][1] == 1500


async def test_a_point_with_a_conflicting_field_type_is_dead_lettered_and_the_rest_lands(
    influx: Influxd, tmp_path: Path
) -> None:
    influx.create_database("conflict")
    influx.write("conflict", f"docker_container_mem usage=1i {T0 - 10}\n")
    good = [stats("web", 1, T0 + i) for i in range(99)]
    bad = stats("web", 2, T0 + 5, usage="a string")
    async with Harness(config(influx.url, "conflict", tmp_path)) as h:
        await h.plugin("src").send([*good[:50], bad, *good[50:]])
        await h.wait_for(lambda: h.plugin("src").acked == 100, what="all acknowledged")
        assert h.plugin("influx").metrics.counter("dead_letter", status="400") == 1
    (s,) = influx.query("SELECT count(usage) FROM docker_container_mem", "conflict")
    assert s["values"][0][1] == 100  # 99 and the point written before
    lines = (tmp_path / "handler.influx" / "dead-letter.jsonl").read_text().splitlines()
    (dl,) = [json.loads(x) for x in lines]
    assert dl["status"] == 400
    assert 'usage="a string"' in dl["line"]
    assert "field type conflict" in dl["error"]


async def test_events_become_annotation_points_when_a_measurement_is_set(
    influx: Influxd, tmp_path: Path
) -> None:
    ev = Message(
        "web1: container.start",
        time=T0,
        kind="event",
        container=ContainerInfo(id="abc", name="web1"),
    )
    log = Message("a log line", time=T0 + 1)
    cfg = config(influx.url, "events", tmp_path, measurement="events", **{"host-tag": False})
    async with Harness(cfg) as h:
        await h.plugin("src").send([ev, log])
        await h.wait_for(lambda: h.plugin("src").acked == 2)
    rows = influx.points("SELECT * FROM events", "events")
    assert [(r["message"], r["kind"], r["container_name"], r["level"]) for r in rows] == [
        ("web1: container.start", "event", "web1", 6),
        ("a log line", "log", None, 6),
    ]


async def test_messages_that_make_no_point_are_dropped_and_counted(
    influx: Influxd, tmp_path: Path
) -> None:
    async with Harness(config(influx.url, "drops", tmp_path)) as h:
        await h.plugin("src").send([Message("a log line"), stats("web", 1, T0)])
        await h.wait_for(lambda: h.plugin("src").acked == 2)
        assert h.plugin("influx").metrics.dropped == {"unsupported": 1}
    assert len(influx.points("SELECT * FROM docker_container_mem", "drops")) == 1


async def test_gzip_compressed_writes_land(influx: Influxd, tmp_path: Path) -> None:
    cfg = config(influx.url, "gz", tmp_path, gzip=True, precision="ms")
    async with Harness(cfg) as h:
        await h.plugin("src").send([stats("web", 1, T0 + i / 1000) for i in range(100)])
        await h.wait_for(lambda: h.plugin("src").acked == 100)
    (s,) = influx.query("SELECT count(usage) FROM docker_container_mem", "gz")
    assert s["values"][0][1] == 100


async def test_a_batch_whose_every_point_conflicts_is_dead_lettered_without_splitting(
    influx: Influxd, tmp_path: Path
) -> None:
    influx.create_database("allbad")
    influx.write("allbad", f"docker_container_mem usage=1i {T0 - 10}\n")
    bad = [stats("web", 2, T0 + i, usage=f"text {i}") for i in range(64)]
    async with Harness(config(influx.url, "allbad", tmp_path)) as h:
        await h.plugin("src").send(bad)
        await h.wait_for(lambda: h.plugin("src").acked == 64, what="all acknowledged")
        handler = h.plugin("influx")
        assert handler.metrics.counter("dead_letter", status="400") == 64
        assert handler.metrics.counter("splits") == 0
    lines = (tmp_path / "handler.influx" / "dead-letter.jsonl").read_text().splitlines()
    assert len(lines) == 64
