"""``when:`` on filters and handlers, in a real pipeline (qframe.testing.Harness)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.testing import Harness, make_registry
from tests.unit.core.plugins import DropOddFilter, TagFilter

EXTRA = {("filter", "tag"): TagFilter, ("filter", "dropodd"): DropOddFilter}
QFRAME = str(Path(sys.executable).with_name("qframe"))


def docs(n: int) -> list[dict[str, Any]]:
    return [
        {"message": str(i), "fields": {"level": "error" if i % 3 == 0 else "info", "i": i}}
        for i in range(n)
    ]


async def test_a_filter_when_passes_the_others_by_unchanged_in_their_place() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": docs(9)}},
        "filter": {
            "t": {
                "kind": "tag",
                "inputs": ["src"],
                "tag": "alert",
                "when": 'fields.level == "error"',
            }
        },
        "handler": {"out": {"kind": "capture", "inputs": ["t"], "source-success": "any"}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion()
    got = h.captured("out")
    assert [m.message for m in got] == [str(i) for i in range(9)]  # order kept
    for m in got:
        if int(m.message) % 3 == 0:
            assert m.tags == ["alert"] and m.fields["seen_by"] == "t"
        else:
            assert m.tags == [] and "seen_by" not in m.fields
        assert m.source_path == ["src", "t", "out"]


async def test_a_message_passed_by_keeps_its_source_success() -> None:
    msgs = [{"message": "a", "source_success": False}, {"message": "b", "source_success": False}]
    cfg = {
        "collector": {"src": {"kind": "list", "messages": msgs}},
        "filter": {
            "g": {
                "kind": "grok",
                "inputs": ["src"],
                "source-success": "any",
                "pattern": "%{WORD:w}",
                "when": 'message == "b"',
            }
        },
        "handler": {"out": {"kind": "capture", "inputs": ["g"], "source-success": "any"}},
    }
    async with Harness(cfg) as h:
        await h.run_to_completion()
    a, b = h.captured("out")
    assert (a.message, a.source_success, a.fields) == ("a", False, {})
    assert (b.message, b.source_success, b.fields) == ("b", True, {"w": "b"})


async def test_a_filter_that_drops_some_keeps_the_passed_by_ones() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": [str(i) for i in range(6)]}},
        "filter": {"d": {"kind": "dropodd", "inputs": ["src"], "when": 'message != "5"'}},
        "handler": {"out": {"kind": "capture", "inputs": ["d"]}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion()
    assert sorted(m.message for m in h.captured("out")) == ["0", "2", "4", "5"]
    assert h.plugin("d").metrics.dropped == {"filtered": 2}


async def test_a_handler_when_takes_only_what_it_holds_for_and_acks_the_rest() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": docs(9), "ack": True}},
        "handler": {
            "errors": {"kind": "capture", "inputs": ["src"], "when": "fields.level == 'error'"},
            "rest": {"kind": "capture", "inputs": ["src"], "when": "not (fields.level == 'error')"},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion()
        assert h.plugin("src").acked == 9
    assert [m.message for m in h.captured("errors")] == ["0", "3", "6"]
    assert len(h.captured("rest")) == 6
    assert h.plugin("errors").metrics.dropped == {"when": 6}
    assert h.plugin("rest").metrics.dropped == {"when": 3}


def test_a_bad_condition_is_a_config_error_naming_key_line_and_column() -> None:
    text = "collector:\n  src: {kind: list}\nhandler:\n  out: {kind: capture, inputs: src, when: 'fields.x =='}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, make_registry(), "p.yml")
    assert "p.yml" in str(e.value)
    assert "handler.out.when" in str(e.value) and "line 1, column 12" in str(e.value)


def test_a_collector_when_is_refused() -> None:
    text = "collector:\n  src: {kind: list, when: 'true'}\n"
    with pytest.raises(ConfigError) as e:
        parse_config(text, make_registry(), "p.yml")
    assert "collector.src.when" in str(e.value)


def test_validate_shows_the_conditions_and_exits_2_on_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "collector:\n  stdin: {}\nhandler:\n"
        '  log: {inputs: stdin, when: \'fields.level == "error" and not ("debug" in tags)\'}\n'
    )
    res = subprocess.run([QFRAME, "validate", "-c", str(good)], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    assert '[when fields.level == "error" and not ("debug" in tags)]' in res.stdout.decode()
    bad = tmp_path / "bad.yml"
    bad.write_text("collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin, when: 'a =~ b'}\n")
    res = subprocess.run([QFRAME, "validate", "-c", str(bad)], capture_output=True, timeout=30)
    err = res.stderr.decode()
    assert res.returncode == 2
    assert str(bad) in err and "handler.log.when" in err and "line 1, column 6" in err
