"""Reading _bulk answers item by item."""

from __future__ import annotations

import orjson

from qframe.message import Message
from qframe.plugins.handlers.elasticsearch.bulk import parse_bulk


def items(n: int) -> list[tuple[Message, bytes]]:
    return [(Message(str(i)), str(i).encode()) for i in range(n)]


def answer(*statuses: int, op: str = "index") -> bytes:
    res = []
    for s in statuses:
        info: dict = {"status": s}
        if s >= 300:
            info["error"] = {"type": f"e{s}", "reason": "why"}
        res.append({op: info})
    return orjson.dumps({"errors": any(s >= 300 for s in statuses), "items": res})


def test_an_answer_without_errors_confirms_every_item() -> None:
    its = items(3)
    out = parse_bulk(200, answer(201, 201, 200), its)
    assert out is not None and out.done == its and not out.retry and not out.dead


def test_each_item_is_sorted_into_done_retry_or_dead_letter() -> None:
    its = items(6)
    out = parse_bulk(200, answer(201, 429, 400, 503, 409, 404), its)
    assert out is not None
    assert out.done == [its[0]]
    assert out.retry == [its[1], its[3]]
    assert [(i, s) for i, s, _ in out.dead] == [(its[2], 400), (its[4], 409), (its[5], 404)]
    assert out.dead[0][2] == {"type": "e400", "reason": "why"}
    assert "429" in out.reason


def test_a_conflict_on_create_means_the_document_is_already_there() -> None:
    its = items(2)
    out = parse_bulk(200, answer(201, 409, op="create"), its)
    assert out is not None and out.done == its


def test_an_unreadable_or_short_answer_retries_what_is_unconfirmed() -> None:
    its = items(3)
    out = parse_bulk(200, b"<html>proxy error</html>", its)
    assert out is not None and out.retry == its and not out.done
    out = parse_bulk(
        200, orjson.dumps({"errors": True, "items": [{"index": {"status": 201}}]}), its
    )
    assert out is not None and out.done == its[:1] and out.retry == its[1:]


def test_statuses_other_than_2xx_get_the_default_treatment() -> None:
    assert parse_bulk(503, b"busy", items(1)) is None


def test_a_compact_answer_without_errors_is_trusted_only_when_every_item_is_there() -> None:
    its = items(2)
    ok = b'{"took":3,"errors":false,"items":[{"index":{"status":201}},{"index":{"status":200}}]}'
    out = parse_bulk(200, ok, its)
    assert out is not None and out.done == its
    short = b'{"took":3,"errors":false,"items":[{"index":{"status":201}}]}'
    out = parse_bulk(200, short, its)
    assert out is not None and out.done == its[:1] and out.retry == its[1:]
    pretty = b'{\n  "errors" : false,\n  "items" : [{"index": {"status": 201}}, {"index": {"status": 201}}]\n}'
    out = parse_bulk(200, pretty, its)
    assert out is not None and out.done == its
