"""The elasticsearch handler against a real OpenSearch-compatible server (osmem-server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qframe.message import ContainerInfo, Message
from qframe.testing import Harness
from tests.integration.handlers.helpers import es_config as config
from tests.services import free_port
from tests.services.osmem import Osmem, OsmemHttpError
from tests.services.tcpproxy import TcpProxy

DAY1 = "2026-11-25T23:59:59.500000Z"
DAY2 = "2026-11-26T05:00:00.123456Z"


def msgs(n: int, start: int = 0, with_ids: bool = True, **kw: Any) -> list[Message]:
    return [
        Message(
            f"line {i}",
            time=1795669200.0 + i,
            id=f"f:{i}" if with_ids else "",
            fields={"seq": i},
            **kw,
        )
        for i in range(start, start + n)
    ]


def dead_letters(data_dir: Path) -> list[dict[str, Any]]:
    p = data_dir / "handler.es" / "dead-letter.jsonl"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines()]


async def test_documents_land_in_their_dated_index_with_fields_and_types(
    osmem: Osmem, tmp_path: Path
) -> None:
    c = ContainerInfo(
        id="c0ffee" * 10 + "abcd",
        name="web1",
        image="nginx:1.27",
        labels={"com.docker.compose.project": "shop"},
        ips={"bridge": "10.88.0.5"},
    )
    first = Message.from_dict(
        {
            "@timestamp": DAY1,
            "id": "file:1:0",
            "message": 'GET /cart HTTP/1.1" 200',
            "host": "node1",
            "tags": ["_grokparsefailure"],
            "fields": {"verb": "GET", "response": 200, "duration": 0.25, "cached": True},
        }
    )
    first.container = c
    second = Message.from_dict(
        {"@timestamp": DAY2, "id": "file:1:40", "message": "second", "level": 3}
    )
    async with Harness(config(osmem.url, tmp_path)) as h:
        await h.plugin("src").send([first, second])
        await h.wait_for(lambda: h.plugin("src").acked == 2, what="both acknowledged")
    assert osmem.indices() == ["qframe-2026.11.25", "qframe-2026.11.26"]
    (hit,) = osmem.search("qframe-2026.11.25")
    assert hit["_id"] == "file:1:0"
    src = hit["_source"]
    assert src["@timestamp"] == "2026-11-25T23:59:59.500000Z"
    assert src["message"] == 'GET /cart HTTP/1.1" 200'
    assert (src["verb"], src["response"], src["duration"], src["cached"]) == (
        "GET",
        200,
        0.25,
        True,
    )
    assert src["host"] == "node1"
    assert src["tags"] == ["_grokparsefailure"]
    assert src["source_path"] == ["src", "es"]
    assert src["container"]["name"] == "web1"
    assert src["container"]["image"] == "nginx:1.27"
    assert src["container"]["labels"] == {"com_docker_compose_project": "shop"}
    assert src["container"]["ips"] == {"bridge": "10.88.0.5"}
    mapping = osmem.mapping("qframe-2026.11.25")
    assert mapping["@timestamp"]["type"] == "date"
    assert mapping["response"]["type"] == "long"
    assert mapping["duration"]["type"] in ("float", "double")
    assert mapping["cached"]["type"] == "boolean"
    assert mapping["level"]["type"] == "long"
    (hit2,) = osmem.search("qframe-2026.11.26")
    assert (hit2["_id"], hit2["_source"]["level"]) == ("file:1:40", 3)


async def test_a_mapping_conflict_dead_letters_that_document_and_the_rest_lands(
    osmem: Osmem, tmp_path: Path
) -> None:
    good = msgs(20)
    bad = Message("bad one", time=1795669200.0, id="bad", fields={"seq": "not a number"})
    async with Harness(config(osmem.url, tmp_path, **{"batch-size": 100})) as h:
        src = h.plugin("src")
        await src.send(good[:1])  # maps seq as a number
        await h.wait_for(lambda: src.acked == 1)
        await src.send([*good[1:10], bad, *good[10:]])
        await h.wait_for(lambda: src.acked == 21, what="all acknowledged")
        assert h.plugin("es").metrics.counter("dead_letter", status="400") == 1
    assert osmem.count("qframe-*") == 20
    (dl,) = dead_letters(tmp_path)
    assert dl["status"] == 400
    assert dl["id"] == "bad"
    assert dl["index"] == "qframe-2026.11.26"
    assert dl["document"]["seq"] == "not a number"
    assert dl["document"]["message"] == "bad one"
    assert "mapper_parsing_exception" in json.dumps(dl["error"])


async def test_a_server_down_at_start_gets_every_document_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: Osmem | None = None
    try:
        async with Harness(config(url, tmp_path, **{"batch-size": 50})) as h:
            src, es = h.plugin("src"), h.plugin("es")
            await src.send(msgs(200, with_ids=False))
            await h.wait_for(lambda: es.metrics.counter("requests", status="error") >= 3)
            assert src.acked == 0
            assert es.metrics.state == "degraded"
            server = Osmem.start(port=port)
            await h.wait_for(lambda: src.acked == 200, timeout=20, what="all acknowledged")
            assert es.metrics.state == "ok"
        hits = server.search("qframe-*")
        assert sorted(h["_source"]["seq"] for h in hits) == list(range(200))
    finally:
        if server is not None:
            server.stop()


async def test_a_connection_cut_mid_stream_loses_and_duplicates_nothing(
    osmem: Osmem, tmp_path: Path
) -> None:
    proxy = await TcpProxy.start(osmem.port)
    url = f"http://127.0.0.1:{proxy.port}"
    try:
        cfg = config(url, tmp_path, **{"batch-size": 25, "max-in-flight": 2})
        async with Harness(cfg) as h:
            src, es = h.plugin("src"), h.plugin("es")
            all_msgs = msgs(400, with_ids=False)
            for i in range(0, 200, 25):
                await src.send(all_msgs[i : i + 25])
            await h.wait_for(lambda: src.acked >= 50, what="some delivered")
            await proxy.cut()
            for i in range(200, 400, 25):
                await src.send(all_msgs[i : i + 25])
            await h.wait_for(lambda: es.metrics.counter("requests", status="error") >= 3)
            assert src.acked < 400
            await proxy.restore()
            await h.wait_for(lambda: src.acked == 400, timeout=20, what="all acknowledged")
        hits = osmem.search("qframe-*")
        seqs = sorted(hit["_source"]["seq"] for hit in hits)
        assert seqs == list(range(400))
    finally:
        await proxy.close()


async def test_replaying_the_same_messages_creates_no_duplicates(
    osmem: Osmem, tmp_path: Path
) -> None:
    for _ in range(2):
        async with Harness(config(osmem.url, tmp_path)) as h:
            await h.plugin("src").send(msgs(50))
            await h.wait_for(lambda: h.plugin("src").acked == 50)
    assert osmem.count("qframe-*") == 50


async def test_the_seed_options_and_an_index_template_are_honoured(
    osmem: Osmem, tmp_path: Path
) -> None:
    template = {
        "template": {"mappings": {"properties": {"seq": {"type": "keyword"}}}},
        "priority": 10,
    }
    cfg = config(osmem.url, tmp_path, **{"index-prefix": "apps", "template": template})
    del cfg["handler"]["es"]["url"]
    cfg["handler"]["es"].update(host="127.0.0.1", port=osmem.port)
    async with Harness(cfg) as h:
        await h.plugin("src").send(msgs(3))
        await h.wait_for(lambda: h.plugin("src").acked == 3)
    res = osmem.request("GET", "/_index_template/qframe")
    (tpl,) = res["index_templates"]
    assert tpl["index_template"]["index_patterns"] == ["apps-*"]
    assert osmem.indices() == ["apps-2026.11.26"]
    assert osmem.mapping("apps-2026.11.26")["seq"]["type"] == "keyword"


async def test_a_legacy_index_template_goes_to_the_legacy_api_and_is_applied(
    osmem: Osmem, tmp_path: Path
) -> None:
    template = {"order": 5, "mappings": {"properties": {"seq": {"type": "keyword"}}}}
    cfg = config(osmem.url, tmp_path, **{"template": template, "template-name": "old"})
    async with Harness(cfg) as h:
        await h.plugin("src").send(msgs(3))
        await h.wait_for(lambda: h.plugin("src").acked == 3)
    (index,) = osmem.indices()
    assert osmem.mapping(index)["seq"]["type"] == "keyword"
    with pytest.raises(OsmemHttpError):
        osmem.request("GET", "/_index_template/old")  # not installed as a composable one


async def test_a_dead_url_in_the_list_fails_over_to_the_live_one(
    osmem: Osmem, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with Harness(config([dead, osmem.url], tmp_path, **{"batch-size": 10})) as h:
        src = h.plugin("src")
        for i in range(0, 100, 10):
            await src.send(msgs(10, start=i))
        await h.wait_for(lambda: src.acked == 100, what="all acknowledged")
    assert osmem.count("qframe-*") == 100


async def test_stopping_flushes_what_is_buffered_and_waits_for_it(
    osmem: Osmem, tmp_path: Path
) -> None:
    cfg = config(osmem.url, tmp_path, **{"batch-size": 10_000, "ticker-ms": 3_600_000})
    async with Harness(cfg) as h:
        src = h.plugin("src")
        await src.send(msgs(30))
        await h.wait_for(lambda: h.plugin("es").metrics.received == 30)
        assert osmem.count("qframe-*") == 0
    assert src.acked == 30
    assert osmem.count("qframe-*") == 30


async def test_ecs_documents_of_grok_ecs_captures_land_with_the_ecs_shape(
    osmem: Osmem, tmp_path: Path
) -> None:
    line = (
        '127.0.0.1 - frank [10/Oct/2026:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
        '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
    )
    m = Message(line, time=1795669200.0, id="f:ecs", host="node1", level=6)
    m.container = ContainerInfo(id="c0ffee", name="web1", image="httpd:2.4")
    cfg = config(osmem.url, tmp_path, **{"ecs-compatibility": "v8"})
    cfg["filter"] = {
        "g": {
            "kind": "grok",
            "inputs": ["src"],
            "pattern": "%{COMBINEDAPACHELOG}",
            "ecs-compatibility": "v8",
        }
    }
    cfg["handler"]["es"]["inputs"] = ["g"]
    async with Harness(cfg) as h:
        await h.plugin("src").send([m])
        await h.wait_for(lambda: h.plugin("src").acked == 1, what="acknowledged")
    (hit,) = osmem.search("qframe-*")
    src = hit["_source"]
    assert src["host"] == {"name": "node1"}
    assert src["container"] == {"id": "c0ffee", "name": "web1", "image": {"name": "httpd:2.4"}}
    assert src["log"] == {"level": "informational", "syslog": {"severity": {"code": 6}}}
    assert src["event"] == {"kind": "event", "original": line}
    assert src["source"] == {"address": "127.0.0.1"}
    assert src["http"]["response"] == {"status_code": 200, "body": {"bytes": 2326}}
    assert src["url"] == {"original": "/apache_pb.gif"}
    assert src["user_agent"] == {"original": "Mozilla/4.08 [en] (Win98; I ;Nav)"}
    assert src["qframe"]["source_path"] == ["src", "g", "es"]
    mapping = osmem.mapping(osmem.indices()[0])
    assert mapping["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "long"
