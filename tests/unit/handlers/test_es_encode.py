"""Elasticsearch documents and bulk action lines."""

from __future__ import annotations

import orjson

from qframe.message import ContainerInfo, Message, Metric
from qframe.plugins.handlers.elasticsearch.encode import DocumentEncoder, split_item

T = 1795669200.123456  # 2026-11-26T05:00:00.123456Z


def decode(data: bytes) -> tuple[dict, dict]:
    action, doc, rest = data.split(b"\n")
    assert rest == b""
    return orjson.loads(action), orjson.loads(doc)


def test_a_log_line_becomes_a_logstash_style_document_in_its_dated_index() -> None:
    m = Message(
        "GET / 200",
        time=T,
        id="f1:42",
        host="node1",
        source_path=["web", "apache"],
        tags=["_grokparsefailure"],
        fields={"verb": "GET", "response": 200},
        container=ContainerInfo(id="abc", name="web1", image="nginx"),
    )
    action, doc = decode(DocumentEncoder("qframe-%Y.%m.%d").encode(m))
    assert action == {"index": {"_index": "qframe-2026.11.26", "_id": "f1:42"}}
    assert doc == {
        "verb": "GET",
        "response": 200,
        "@timestamp": "2026-11-26T05:00:00.123456Z",
        "message": "GET / 200",
        "kind": "log",
        "level": 6,
        "host": "node1",
        "source_path": ["web", "apache"],
        "tags": ["_grokparsefailure"],
        "container": {"id": "abc", "name": "web1", "image": "nginx"},
    }


def test_the_index_comes_from_the_event_time_not_the_clock() -> None:
    enc = DocumentEncoder("logs-%Y.%m.%d-%H")
    a, _ = decode(enc.encode(Message("x", time=T - 86400 * 365)))
    b, _ = decode(enc.encode(Message("x", time=T)))
    assert a["index"]["_index"] == "logs-2025.11.26-05"
    assert b["index"]["_index"] == "logs-2026.11.26-05"


def test_label_keys_are_de_dotted_unless_turned_off() -> None:
    c = ContainerInfo(id="abc", labels={"com.docker.compose.project": "shop"})
    m = Message("x", time=T, labels={"a.b": "1"}, container=c)
    _, doc = decode(DocumentEncoder("i").encode(m))
    assert doc["labels"] == {"a_b": "1"}
    assert doc["container"]["labels"] == {"com_docker_compose_project": "shop"}
    _, doc = decode(DocumentEncoder("i", dedot=False).encode(m))
    assert doc["labels"] == {"a.b": "1"}
    assert doc["container"]["labels"] == {"com.docker.compose.project": "shop"}


def test_fields_named_like_core_keys_move_under_fields() -> None:
    m = Message("real", time=T, fields={"message": "parsed", "level": "x", "n": 1})
    _, doc = decode(DocumentEncoder("i").encode(m))
    assert doc["message"] == "real"
    assert doc["level"] == 6
    assert doc["fields"] == {"message": "parsed", "level": "x"}
    assert doc["n"] == 1


def test_messages_without_an_id_get_unique_generated_ids() -> None:
    enc = DocumentEncoder("i")
    ids = {decode(enc.encode(Message("x", time=T)))[0]["index"]["_id"] for _ in range(1000)}
    assert len(ids) == 1000
    other = DocumentEncoder("i")
    assert decode(other.encode(Message("x", time=T)))[0]["index"]["_id"] not in ids
    action, _ = decode(DocumentEncoder("i", generate_ids=False).encode(Message("x", time=T)))
    assert action == {"index": {"_index": "i"}}


def test_create_is_used_as_the_bulk_action_when_asked() -> None:
    action, _ = decode(DocumentEncoder("i", op_type="create").encode(Message("x", time=T, id="1")))
    assert action == {"create": {"_index": "i", "_id": "1"}}


def test_metrics_and_odd_values_are_encoded() -> None:
    m = Message(
        "",
        time=T,
        kind="metric",
        metric=Metric("cpu", {"usage": 0.5}),
        fields={"raw": b"bytes", "set": {1}, 3: "int key"},
    )
    _, doc = decode(DocumentEncoder("i").encode(m))
    assert doc["metric"] == {"name": "cpu", "type": "gauge", "fields": {"usage": 0.5}}
    assert doc["raw"] == "bytes"
    assert doc["set"] == [1]
    assert doc["3"] == "int key"
    assert "message" not in doc


def test_a_changed_container_object_is_not_served_from_the_cache() -> None:
    enc = DocumentEncoder("i")
    _, a = decode(enc.encode(Message("x", time=T, container=ContainerInfo(id="a", name="one"))))
    _, b = decode(enc.encode(Message("x", time=T, container=ContainerInfo(id="a", name="two"))))
    assert (a["container"]["name"], b["container"]["name"]) == ("one", "two")


def test_an_encoded_item_splits_back_into_action_and_document() -> None:
    data = DocumentEncoder("i").encode(Message("hello", time=T, id="7"))
    meta, doc = split_item(data)
    assert meta == {"_index": "i", "_id": "7"}
    assert doc["message"] == "hello"


def test_keys_of_maps_nested_in_fields_are_de_dotted_but_top_level_names_kept() -> None:
    attrs = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.project.working_dir": "/srv",
        "deep": {"a.b": 1},
    }
    m = Message("web1: container.start", time=T, fields={"http.method": "GET", "attributes": attrs})
    _, doc = decode(DocumentEncoder("i").encode(m))
    assert doc["http.method"] == "GET"
    assert doc["attributes"] == {
        "com_docker_compose_project": "shop",
        "com_docker_compose_project_working_dir": "/srv",
        "deep": {"a_b": 1},
    }
    assert m.fields["attributes"] is attrs and "com.docker.compose.project" in attrs
    _, doc = decode(DocumentEncoder("i", dedot=False).encode(m))
    assert doc["attributes"]["com.docker.compose.project"] == "shop"
