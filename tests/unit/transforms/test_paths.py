"""Field paths (qframe.paths): one syntax for options and conditions, grok included."""

from __future__ import annotations

import pytest

from qframe.message import ContainerInfo, Message, Metric
from qframe.paths import MISSING, parse_path

from .helpers import run_filter


def test_roots_and_bare_names() -> None:
    m = Message(
        "text",
        5.0,
        host="h",
        fields={"a": {"b": 1}, "status": "500"},
        labels={"app": "x"},
        tags=["t"],
        container=ContainerInfo(id="c", name="web", labels={"l": "v"}),
        metric=Metric("cpu", {"usage": 3}),
    )
    cases = {
        "message": "text", "time": 5.0, "@timestamp": 5.0, "host": "h", "tags": ["t"],
        "labels.app": "x", "fields.a.b": 1, "a.b": 1, "status": "500", "[a][b]": 1,
        "container.name": "web", "container.labels.l": "v", "metric.fields.usage": 3,
        "metric.name": "cpu", "fields.nope": MISSING, "a.b.c": MISSING,
    }  # fmt: skip
    for text, want in cases.items():
        assert parse_path(text).get(m) == want, text


def test_set_and_delete() -> None:
    m = Message("x", fields=None)
    parse_path("fields.a.b").set(m, 1)
    parse_path("labels.env").set(m, 2)
    parse_path("level").set(m, 99)
    assert m.fields == {"a": {"b": 1}} and m.labels == {"env": "2"} and m.level == 7
    assert parse_path("a.b").delete(m) is True and m.fields == {"a": {}}
    assert parse_path("a.zz").delete(m) is False


@pytest.mark.parametrize(
    "bad", ["", "a..b", "message.x", "tags.x", "container.nope", "metric.x", "[a]b"]
)
def test_bad_paths(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_path(bad)


def test_read_only_parts() -> None:
    with pytest.raises(ValueError):
        parse_path("container.name", writable=True)


async def test_grok_field_takes_any_path() -> None:
    msgs = [{"message": "x", "labels": {"app": "web 42"}, "fields": {"raw": "db 7"}}]
    (m,), _ = await run_filter(
        "grok", {"field": "labels.app", "pattern": "%{WORD:w} %{INT:n}"}, msgs
    )
    assert m.fields["w"] == "web" and m.fields["n"] == "42"
    (m,), _ = await run_filter(
        "grok", {"field": "fields.raw", "target": "fields.p", "pattern": "%{WORD:w}"}, msgs
    )
    assert m.fields["p"] == {"w": "db"}
    (m,), _ = await run_filter(
        "grok", {"field": "raw", "target": "p", "pattern": "%{WORD:w}"}, msgs
    )
    assert m.fields["p"] == {"w": "db"}  # the old form: a bare name is under fields
