"""``qframe grok``: captures as JSON, or why a line does not match."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qframe.cli import main

from .examples import COMBINED


def grok(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, object]], str]:
    res = CliRunner().invoke(main, ["grok", *args], input=stdin)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    return res.exit_code, rows, res.output


def test_a_matching_line_prints_its_captures() -> None:
    code, rows, _ = grok("--pattern", "%{COMBINEDAPACHELOG}", COMBINED)
    assert code == 0
    assert rows[0]["match"] is True
    assert rows[0]["captures"]["clientip"] == "127.0.0.1"  # type: ignore[index]


def test_lines_come_from_stdin_too() -> None:
    code, rows, _ = grok("-p", "%{INT:n:int}", stdin="a 1\nb 22\n")
    assert code == 0
    assert [r["captures"] for r in rows] == [{"n": 1}, {"n": 22}]


def test_a_line_that_does_not_match_says_which_part_fails() -> None:
    broken = COMBINED.replace(" 200 ", " OK ")
    code, rows, _ = grok("-p", "%{COMBINEDAPACHELOG}", broken)
    assert code == 1
    row = rows[0]
    assert row["match"] is False
    assert "(?:-|%{NUMBER:response})" in str(row["why"]) and "'OK 2326" in str(row["why"])
    assert row["partial_captures"]["httpversion"] == "1.0"  # type: ignore[index]


def test_a_pattern_whose_first_part_is_absent_says_so() -> None:
    code, rows, _ = grok("-p", "%{IPV4:ip} %{WORD:w}", "no address here")
    assert code == 1
    assert "first part '%{IPV4:ip}' is not found" in str(rows[0]["why"])


def test_several_patterns_are_tried_in_order() -> None:
    code, rows, _ = grok("-p", "%{IPV4:ip}", "-p", "%{WORD:w}", "hello")
    assert code == 0
    assert rows[0] == {"match": True, "captures": {"w": "hello"}, "pattern": "%{WORD:w}"}


def test_a_pattern_dir_and_definitions_extend_the_library(tmp_path: Path) -> None:
    (tmp_path / "extra").write_text("TICKET [A-Z]+-[0-9]+\n")
    code, rows, _ = grok(
        "--pattern-dir", str(tmp_path), "--define", "PRIO=P[0-4]", "-p",
        "%{TICKET:t} %{PRIO:p}", "fix ABC-12 P1",
    )  # fmt: skip
    assert code == 0 and rows[0]["captures"] == {"t": "ABC-12", "p": "P1"}


def test_explain_prints_the_engine_and_the_expansion() -> None:
    code, rows, _ = grok("-p", "%{COMBINEDAPACHELOG}", "--explain", COMBINED)
    assert code == 0
    info = rows[0]
    assert info["engine"] == "re up to 246 chars, then regex"
    assert "clientip" in info["fields"]  # type: ignore[operator]
    assert "(?P<g0>" in str(info["regex"])


def test_a_bad_pattern_exits_2_with_a_reason() -> None:
    code, _, out = grok("-p", "%{NOPE}", "x")
    assert code == 2 and "unknown pattern %{NOPE}" in out


SYSLOG_LINE = "Nov 26 05:00:01 web1 sshd[1]: hello"


def test_list_shows_the_library() -> None:
    code, _, out = grok("--list")
    assert code == 0
    assert "COMBINEDAPACHELOG" in out and "httpd.grok" in out and "OPENTSDB" in out
    sections = [ln for ln in out.splitlines() if ln.startswith("# ")]
    assert sections[0].startswith("# grok-patterns.grok") and any(
        s.startswith("# haproxy.grok (") for s in sections
    )
    httpd = out.split("# httpd.grok", 1)[1].split("\n\n", 1)[0]
    assert "COMBINEDAPACHELOG" in httpd and "SYSLOGLINE" not in httpd


def test_list_of_the_ecs_library() -> None:
    code, _, out = grok("--list", "--ecs-compatibility", "v8")
    assert code == 0 and "[source][address]" in out and "clientip" not in out
    code, rows, _ = grok("--ecs-compatibility", "v1", "-p", "%{SYSLOGLINE}", SYSLOG_LINE)
    assert rows[0]["captures"]["process"] == {"name": "sshd", "pid": 1}


def test_an_alternation_is_diagnosed_by_its_closest_alternative() -> None:
    line = "[Thu Nov 26 05:00:01 2026] [core:error] [pid x] oops"
    code, rows, _ = grok("-p", "%{HTTPD_ERRORLOG}", line)
    assert code == 1
    why = str(rows[0]["why"])
    assert why.startswith("alternative 2 of 2 ('%{HTTPD24_ERRORLOG}')")
    assert "'%{POSINT:pid}' does not match at 'x] oops'" in why


def test_a_long_partial_match_is_quoted_by_its_start_and_end_around_an_ellipsis() -> None:
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 x "http://a/a/very/long/referrer/page" "b"'
    code, rows, _ = grok("-p", "%{COMBINEDAPACHELOG}", line)
    assert code == 1
    why = str(rows[0]["why"])
    assert why.startswith(
        "the first 16 of 21 parts match '127.0.0.1 - f…700] \"GET / HTTP/1.0\" 200 ' (characters 0-68)"
    )
    assert why.endswith('does not match at \'x "http://a/a/very/long/referrer/page" "…\'')
