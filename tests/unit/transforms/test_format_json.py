"""``format: json`` of the file collector: the same semantics as tcp's (qframe.jsonline)."""

from __future__ import annotations

from pathlib import Path

from qframe.jsonline import decode_messages
from qframe.message import Message
from qframe.testing import Harness


def test_decode_messages_keeps_the_collectors_fields_on_top() -> None:
    ms = [
        Message('{"message": "hi", "a": 1, "path": "theirs"}', fields={"path": "/x"}),
        Message('{"message": {"nested": true}}'),
        Message("[1, 2]"),
        Message('{"deep": ' + "[" * 100 + "]" * 100 + "}"),
        Message("   "),
    ]
    assert decode_messages(ms) == 2
    assert (ms[0].message, ms[0].fields) == ("hi", {"a": 1, "path": "/x"})
    assert ms[1].message == '{"nested":true}'
    assert ms[2].tags == ["_jsonparsefailure"] and ms[3].tags == ["_jsonparsefailure"]
    assert ms[4].tags == []


async def test_the_file_collector_decodes_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('{"message": "one", "level": "info"}\nnot json\n{"n": 2}\n')
    cfg = {
        "data-dir": str(tmp_path / "data"),
        "tick": "100ms",
        "collector": {
            "f": {"kind": "file", "path": str(log), "format": "json", "start-position": "beginning"}
        },
        "handler": {"out": {"kind": "capture", "inputs": ["f"]}},
    }
    async with Harness(cfg) as h:
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        assert h.plugin("f").metrics.counter("invalid_json") == 1
    one, bad, two = h.captured("out")
    assert one.message == "one" and one.fields["level"] == "info"
    assert one.fields["path"] == str(log) and one.fields["offset"] == 0
    assert bad.message == "not json" and bad.tags == ["_jsonparsefailure"]
    assert two.message == "" and two.fields["n"] == 2
