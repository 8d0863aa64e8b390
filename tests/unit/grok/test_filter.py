"""The grok filter in a real pipeline (qframe.testing.Harness)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qframe.batch import json_lines, new_logs
from qframe.errors import ConfigError
from qframe.message import SharedFields
from qframe.plugins.filters.grok import GrokFilter
from qframe.runtime.worker_main import Worker, _delta
from qframe.runtime.workwire import decode_reply, decode_texts, encode_texts, encode_texts_reply
from qframe.testing import Harness

from .examples import COMBINED

APACHE = COMBINED
OTHER = "Nov 26 05:00:01 web1 sshd[123]: Accepted publickey for root"


def pipeline(grok: dict[str, Any], messages: list[Any], *, ack: bool = False) -> dict[str, Any]:
    return {
        "collector": {"src": {"kind": "list", "messages": messages, "ack": ack}},
        "filter": {"g": {"kind": "grok", "inputs": ["src"], **grok}},
        "handler": {"out": {"kind": "capture", "inputs": ["g"], "source-success": "any"}},
    }


async def run(config: dict[str, Any]) -> Harness:
    async with Harness(config) as h:
        await h.run_to_completion()
    return h


async def test_a_match_merges_captures_and_sets_source_success() -> None:
    h = await run(pipeline({"pattern": "%{COMBINEDAPACHELOG}"}, [APACHE]))
    (m,) = h.captured("out")
    assert m.source_success is True
    assert m.fields["clientip"] == "127.0.0.1" and m.fields["response"] == "200"
    assert m.message == APACHE and m.tags == []
    assert m.source_path == ["src", "g", "out"]
    assert h.plugin("g").metrics.counter("matched") == 1


async def test_no_match_tags_the_message_and_forwards_it_unchanged() -> None:
    h = await run(pipeline({"pattern": "%{COMBINEDAPACHELOG}"}, [OTHER]))
    (m,) = h.captured("out")
    assert m.source_success is False
    assert m.tags == ["_grokparsefailure"]
    assert m.message == OTHER and m.fields == {}
    assert h.plugin("g").metrics.counter("unmatched") == 1


async def test_unmatched_lines_flow_down_the_else_chain() -> None:
    config = {
        "collector": {"src": {"kind": "list", "messages": [APACHE, OTHER, "neither"]}},
        "filter": {
            "apache": {"kind": "grok", "inputs": ["src"], "pattern": "%{COMBINEDAPACHELOG}"},
            "syslog": {
                "kind": "grok",
                "inputs": ["apache"],
                "source-success": False,
                "pattern": "%{SYSLOGLINE}",
            },
        },
        "handler": {
            "web": {"kind": "capture", "inputs": ["apache"]},
            "sys": {"kind": "capture", "inputs": ["syslog"]},
            "rest": {"kind": "capture", "inputs": ["syslog"], "source-success": False},
        },
    }
    h = await run(config)
    assert [m.message for m in h.captured("web")] == [APACHE]
    (s,) = h.captured("sys")
    assert s.fields["program"] == "sshd" and s.source_success is True
    assert s.source_path == ["src", "apache", "syslog", "sys"]
    (r,) = h.captured("rest")
    assert r.message == "neither" and r.tags == ["_grokparsefailure"]


def test_validate_warns_when_the_failure_branch_has_no_consumer() -> None:
    config = {
        "collector": {"src": {"kind": "list", "messages": []}},
        "filter": {"g": {"kind": "grok", "inputs": ["src"], "pattern": "%{WORD}"}},
        "handler": {"out": {"kind": "capture", "inputs": ["g"]}},
    }
    warnings = Harness(config).spec.warnings
    assert any("filter.g" in w and "source-success: false" in w for w in warnings)
    config["handler"]["out"]["source-success"] = "any"
    assert not any("filter.g" in w for w in Harness(config).spec.warnings)


async def test_patterns_are_tried_in_order_and_the_first_match_wins() -> None:
    grok = {"pattern": ["%{IP:ip}", "%{WORD:word}"]}
    h = await run(pipeline(grok, ["at 10.0.0.1 now", "hello"]))
    a, b = h.captured("out")
    assert a.fields == {"ip": "10.0.0.1"}
    assert b.fields == {"word": "hello"}


async def test_without_break_on_match_every_matching_pattern_adds_its_captures() -> None:
    grok = {"pattern": ["%{IP:ip}", "%{WORD:word}"], "break-on-match": False}
    h = await run(pipeline(grok, ["at 10.0.0.1 now"]))
    assert h.captured("out")[0].fields == {"ip": "10.0.0.1", "word": "at"}


async def test_target_overwrite_message_key_and_typed_captures() -> None:
    grok = {
        "pattern": "%{WORD:verb} %{NUMBER:ms:int}ms %{GREEDYDATA:rest}",
        "target": "req",
        "overwrite-message-key": "rest",
    }
    h = await run(pipeline(grok, ["GET 15ms the rest of it"]))
    (m,) = h.captured("out")
    assert m.fields == {"req": {"verb": "GET", "ms": 15, "rest": "the rest of it"}}
    assert m.message == "the rest of it"


async def test_inline_patterns_and_a_pattern_dir(tmp_path: Path) -> None:
    (tmp_path / "mine").write_text("# Logstash format\nMYID ID-[0-9]+\n")
    grok = {
        "pattern": "%{MYID:id} %{LEVEL:level}",
        "patterns": {"LEVEL": "(?:low|high)"},
        "pattern-dir": str(tmp_path),
    }
    h = await run(pipeline(grok, ["ID-42 high"]))
    assert h.captured("out")[0].fields == {"id": "ID-42", "level": "high"}


async def test_the_field_option_matches_another_field() -> None:
    msgs = [{"@timestamp": "2026-11-26T05:00:01Z", "message": "x", "fields": {"raw": "a=1"}}]
    h = await run(pipeline({"pattern": "%{WORD:k}=%{INT:v:int}", "field": "raw"}, msgs))
    (m,) = h.captured("out")
    assert m.fields == {"raw": "a=1", "k": "a", "v": 1} and m.source_success is True


async def test_a_missing_field_is_a_parse_failure_not_a_crash() -> None:
    h = await run(pipeline({"pattern": "%{WORD:k}", "field": "nope"}, ["x"]))
    (m,) = h.captured("out")
    assert m.source_success is False and m.tags == ["_grokparsefailure"]


async def test_a_line_over_the_time_budget_is_tagged_counted_and_forwarded() -> None:
    grok = {"pattern": "^(?<x>(a|aa)+)$", "timeout-ms": 20}
    h = await run(pipeline(grok, ["a" * 80 + "!", "aaaa"], ack=True))
    slow, ok = h.captured("out")
    assert slow.tags == ["_groktimeout"] and slow.source_success is False
    assert ok.fields == {"x": "aaaa"} and ok.source_success is True
    metrics = h.plugin("g").metrics
    assert metrics.counter("timeouts") == 1
    assert metrics.counter("matched") == 1 and metrics.counter("unmatched") == 0
    assert h.plugin("src").acked == 2  # nothing lost


async def test_a_timeout_in_a_multi_pattern_filter_is_tagged_too() -> None:
    grok = {"pattern": ["^(?<x>(a|aa)+)$", "%{WORD:w}"], "timeout-ms": 20}
    h = await run(pipeline(grok, ["a" * 80 + "!"]))
    (m,) = h.captured("out")
    assert m.tags == ["_groktimeout"]
    metrics = h.plugin("g").metrics
    assert metrics.counter("timeouts") == 1 and metrics.counter("unmatched") == 0


@pytest.mark.parametrize(
    ("grok", "message"),
    [
        ({"pattern": "%{NOSUCHPATTERN}"}, "unknown pattern"),
        ({"pattern": "%{WORD:x:bool}"}, "unknown type"),
        ({"pattern": "(unclosed"}, "missing"),
        ({"pattern": []}, "at least 1"),
        ({"pattern": "%{WORD}", "pattern-dir": "/nonexistent/dir"}, "not a directory"),
        ({"pattern": "%{WORD}", "target": "[bad"}, "bad field"),
    ],
)
def test_pattern_problems_are_config_errors(grok: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Harness(pipeline(grok, []))


async def test_tag_on_failure_and_tag_on_timeout_replace_the_default_tags() -> None:
    grok = {
        "pattern": "^(?<x>(a|aa)+)$",
        "timeout-ms": 20,
        "tag-on-failure": ["_nomatch", "grok"],
        "tag-on-timeout": "_slow",
    }
    h = await run(pipeline(grok, ["a" * 80 + "!", "b"]))
    slow, failed = h.captured("out")
    assert slow.tags == ["_slow"] and failed.tags == ["_nomatch", "grok"]
    h = await run(pipeline({"pattern": "%{INT}", "tag-on-failure": []}, ["b"]))
    (m,) = h.captured("out")
    assert m.tags == [] and m.source_success is False


async def test_named_captures_only_false_captures_references_under_their_pattern_names() -> None:
    grok = {"pattern": "%{WORD} %{INT:n:int}", "named-captures-only": False}
    h = await run(pipeline(grok, ["GET 42"]))
    assert h.captured("out")[0].fields == {"WORD": "GET", "n": 42}
    h = await run(pipeline({"pattern": "%{WORD} %{INT:n:int}"}, ["GET 42"]))
    assert h.captured("out")[0].fields == {"n": 42}


async def test_a_capture_into_an_existing_field_appends_unless_listed_in_overwrite() -> None:
    msgs = [
        {
            "@timestamp": "2026-11-26T05:00:01Z",
            "message": "user=bob code=7 rest",
            "fields": {"user": "alice", "code": 1, "keep": "k", "r": {"a": 1}},
        }
    ]
    grok = {"pattern": "user=%{WORD:user} code=%{INT:code:int} %{WORD:[r][b]}", "overwrite": "code"}
    h = await run(pipeline(grok, msgs))
    (m,) = h.captured("out")
    assert m.fields == {
        "user": ["alice", "bob"],
        "code": 7,
        "keep": "k",
        "r": {"a": 1, "b": "rest"},
    }


async def test_overwrite_message_replaces_the_message_text() -> None:
    grok = {"pattern": "^%{SYSLOGBASE} %{GREEDYDATA:message}", "overwrite": ["message"]}
    h = await run(pipeline(grok, [OTHER]))
    (m,) = h.captured("out")
    assert m.message == "Accepted publickey for root"
    assert "message" not in m.fields and m.fields["program"] == "sshd"


async def test_patterns_files_glob_chooses_the_files_of_a_pattern_dir(tmp_path: Path) -> None:
    (tmp_path / "a.grok").write_text("MINE [0-9]+\n")
    (tmp_path / "b.txt").write_text("MINE [a-z]+\n")
    grok = {"pattern": "%{MINE:m}", "pattern-dir": str(tmp_path), "patterns-files-glob": "*.grok"}
    h = await run(pipeline(grok, ["abc 123"]))
    assert h.captured("out")[0].fields == {"m": "123"}
    h = await run(pipeline({**grok, "patterns-files-glob": "*"}, ["abc 123"]))
    assert h.captured("out")[0].fields == {"m": "abc"}  # b.txt read last, overrides


async def test_ecs_compatibility_selects_the_ecs_library() -> None:
    grok = {"pattern": "%{COMBINEDAPACHELOG}", "ecs-compatibility": "v8"}
    h = await run(pipeline(grok, [APACHE]))
    f = h.captured("out")[0].fields
    assert f["source"] == {"address": "127.0.0.1"}
    assert f["http"]["response"] == {"status_code": 200, "body": {"bytes": 2326}}
    with pytest.raises(ConfigError, match="no ECS version"):
        Harness(pipeline({"pattern": "%{OPENTSDB}", "ecs-compatibility": "v1"}, []))


# -- workers: a batch that crosses as its texts (Filter.worker_texts) ------------------
def _grok(options: dict[str, Any], tmp: Path) -> Any:
    """A grok instance as a worker process builds it (its stand-in node, its metrics)."""
    opts = GrokFilter.Options.model_validate(options)
    return Worker(GrokFilter, "g", "grok", opts, str(tmp), 1.0).plugin


TEXTS_CASES = [
    ({"pattern": "%{COMBINEDAPACHELOG}"}, [APACHE, OTHER, "", APACHE.replace("GET", "PUT")]),
    ({"pattern": "%{WORD:w} %{INT:n:int} ?%{WORD:e}?"}, ["GET 42 x", "GET 7 ", "x", "é 1 \x7f"]),
    ({"pattern": "%{WORD:w} (?<e>x?)", "keep-empty-captures": True}, ["a ", "a x", "-"]),
    ({"pattern": "(?<e>x?)"}, ["", "y"]),  # a match that captures nothing: no fields
    ({"pattern": "%{COMBINEDAPACHELOG}", "ecs-compatibility": "v8"}, [APACHE, OTHER]),
    (
        {"pattern": "^(?<x>(a|aa)+)$", "timeout-ms": 20, "tag-on-failure": ["no", "grok"]},
        ["a" * 80 + "!", "aaaa", "b"],
    ),
]


@pytest.mark.parametrize(("options", "texts"), TEXTS_CASES)
async def test_the_texts_way_through_workers_gives_what_process_gives(
    options: dict[str, Any], texts: list[str], tmp_path: Path
) -> None:
    """process() on messages against the texts way: worker_texts in the main process,
    the wire, process_texts in a worker's instance, apply_texts in the main's: the same
    messages, the same JSON lines, the same counters."""
    one, main, worker = (_grok(options, tmp_path) for _ in range(3))
    a = new_logs(texts, 1.5, "h", "src")
    await one.process(a)
    b = new_logs(texts, 1.5, "h", "src")
    sent = main.worker_texts(b)
    assert sent == texts
    fields, extra = worker.process_texts(decode_texts(encode_texts(sent)))
    res = decode_reply(encode_texts_reply(fields, extra, _delta(worker.metrics, {})))
    main.apply_texts(b, res["fields"], res["t"])
    assert json_lines(b) == json_lines(a)
    assert [m.to_dict() for m in b] == [m.to_dict() for m in a]
    assert [m.fields for m in b] == [m.fields for m in a]
    for name in ("matched", "unmatched", "timeouts"):
        assert worker.metrics.counter(name) == one.metrics.counter(name), name
    assert res["m"]["c"]  # the counters travel with the answer


async def test_the_texts_way_is_not_taken_where_captures_would_merge_with_fields(
    tmp_path: Path,
) -> None:
    g = _grok({"pattern": "%{WORD:w}"}, tmp_path)
    batch = new_logs(["a", "b"], 1.0, "h", "src")
    assert g.worker_texts(batch) == ["a", "b"]
    batch[1].fields["w"] = "old"  # Logstash's merge rule: done on the messages
    assert g.worker_texts(batch) is None
    assert g.worker_texts(new_logs(["a"], 1.0, "h", "src", SharedFields(x=1))) is None
    empty = new_logs(["a"], 1.0, "h", "src", SharedFields())
    assert g.worker_texts(empty) == ["a"]
    for other in ({"target": "t"}, {"field": "f"}, {"pattern": ["%{WORD:w}", "%{INT:i}"]}):
        g = _grok({"pattern": "%{WORD:w}", **other}, tmp_path)
        assert g.worker_texts(new_logs(["a"], 1.0, "h", "src")) is None, other
