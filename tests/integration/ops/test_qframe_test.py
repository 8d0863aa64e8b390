"""`qframe test`: pipeline unit tests from YAML files, passing, failing and invalid."""

from __future__ import annotations

from pathlib import Path

from tests.integration.ops.daemon import qframe

APACHE = '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 5 "-" "-"'

PIPELINE = """\
http: 127.0.0.1:1
collector:
  web-logs: {kind: tcp, bind-port: 1}
filter:
  apache: {kind: grok, inputs: [web-logs], pattern: '%{COMBINEDAPACHELOG}'}
  other: {kind: grok, inputs: [apache], source-success: false, pattern: '%{WORD:word} %{NUMBER:n:int}'}
handler:
  es: {kind: elasticsearch, inputs: [apache], url: 'http://127.0.0.1:1'}
  rest: {kind: log, inputs: [other], source-success: any}
"""

PASSING = f"""\
config: pipeline.yml
tests:
  - name: apache lines are parsed
    inputs:
      - {{instance: web-logs, lines: ['{APACHE}']}}
    outputs:
      - instance: apache
        count: 1
        conditions:
          - {{field: fields.clientip, equals: "1.2.3.4"}}
          - {{field: source_success, equals: true}}
          - {{field: fields.bytes, matches: "^[0-9]+$"}}
          - {{field: fields.nothing, exists: false}}
          - 'fields.response == 200 and fields.verb =~ "^G"'
      - instance: es
        count: 1
        conditions:
          - {{field: source_path, equals: [web-logs, apache, es]}}
      - {{instance: other, count: 0}}
  - name: an unparsed line takes the else branch
    inputs:
      - {{instance: web-logs, lines: ["hello 7"]}}
      - {{instance: web-logs, messages: [{{message: "x 12", fields: {{a: 1}}, tags: [x]}}]}}
    outputs:
      - {{instance: es, count: 0}}
      - instance: other
        count: 2
        conditions:
          - {{field: fields.word, matches: "^(hello|x)$"}}
          - {{field: tags, contains: _grokparsefailure}}
          - {{field: source_path, equals: [web-logs, apache, other]}}
      - {{instance: rest, count: 2}}
"""


def write(tmp: Path, test: str, pipeline: str = PIPELINE) -> Path:
    (tmp / "pipeline.yml").write_text(pipeline)
    f = tmp / "t.yml"
    f.write_text(test)
    return f


def test_a_passing_file_exits_0_without_any_service(tmp_path: Path) -> None:
    res = qframe("test", str(write(tmp_path, PASSING)))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok   " in res.stdout and "apache lines are parsed" in res.stdout
    assert res.stdout.splitlines()[-1] == "2 tests: 2 passed, 0 failed"


def test_a_failing_condition_exits_1_with_field_expected_got_and_the_message(
    tmp_path: Path,
) -> None:
    failing = (
        PASSING.replace('equals: "1.2.3.4"', 'equals: "9.9.9.9"')
        .replace("fields.response == 200", "fields.response == 404")
        .replace("- {instance: es, count: 0}", "- {instance: es, count: 2}")
    )
    res = qframe("test", str(write(tmp_path, failing)))
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert "FAIL" in out and "apache lines are parsed" in out
    assert 'apache[0]: fields.clientip equals "9.9.9.9": got "1.2.3.4"' in out
    assert '"message":"1.2.3.4 - - [10/Oct/2000' in out  # the message itself
    assert "es: count: expected 2, got 0" in out
    assert """apache[0]: 'fields.response == 404 and fields.verb =~ "^G"' does not hold""" in out
    assert out.splitlines()[-1] == "2 tests: 0 passed, 2 failed"


def test_an_inline_pipeline_with_an_inventory_enriches_from_the_same_config(
    tmp_path: Path,
) -> None:
    f = tmp_path / "inv.yml"
    f.write_text(
        """\
pipeline:
  collector:
    docker-events: {}
    tcp: {}
  filter:
    inventory: {inputs: [docker-events, tcp], wait: 5s}
  handler:
    log: {inputs: [inventory]}
tests:
  - name: a line names its container
    inputs:
      - instance: docker-events
        messages:
          - kind: event
            message: "web1: container.start"
            fields: {action: start, type: container, actor_id: "4f3c0000000000000000000000000000000000000000000000000000000000aa"}
            container: {id: "4f3c0000000000000000000000000000000000000000000000000000000000aa", name: web1, image: "localhost/busybox:latest"}
      - {instance: tcp, messages: [{message: hello, fields: {container_name: web1}}]}
    outputs:
      - instance: log
        count: 2
      - instance: inventory
        conditions:
          - {field: container.name, equals: web1}
          - {field: tags, exists: false}
"""
    )
    res = qframe("test", str(f))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 tests: 1 passed, 0 failed" in res.stdout


def test_invalid_files_exit_2_naming_file_and_key(tmp_path: Path) -> None:
    cases = {
        "tests: []\nconfig: pipeline.yml\n": "t.yml: tests: expected a non-empty list",
        "config: pipeline.yml\ntests: [{inputs: [{instance: apache, lines: [a]}], outputs: [{instance: es}]}]\n": "t.yml: tests[0].inputs: 'apache' is not a collector",
        "config: pipeline.yml\ntests: [{outputs: [{instance: es, conditions: [{field: a, resembles: b}]}]}]\n": "t.yml: tests[0].outputs[0].conditions[0]: expected one operator",
        "config: pipeline.yml\ntests: [{outputs: [{instance: nope}]}]\n": "no instance 'nope'",
        "config: pipeline.yml\ntests: [{outputs: [{instance: es, conditions: ['a =='] }]}]\n": "conditions[0]: bad condition: ",
        "config: missing.yml\ntests: [{outputs: [{instance: es}]}]\n": "t.yml: config: cannot read",
        "config: pipeline.yml\ntests: [{outputs: [{instance: es, conditions: [{field: a, matches: '('}]}]}]\n": "conditions[0].matches: bad regular expression",
    }
    for text, expected in cases.items():
        res = qframe("test", str(write(tmp_path, text)))
        assert res.returncode == 2, (text, res.stdout, res.stderr)
        assert "test file error: " in res.stderr and expected in res.stderr, res.stderr
    bad_config = PIPELINE.replace("pattern: '%{WORD", "patern: '%{WORD")
    res = qframe("test", str(write(tmp_path, PASSING, bad_config)))
    assert res.returncode == 2
    assert (
        "config error: " in res.stderr
        and "pipeline.yml:6:64: filter.other.patern: unknown option" in res.stderr
    ), res.stderr


def test_lines_go_through_the_collectors_multiline_and_json_decoding(tmp_path: Path) -> None:
    f = tmp_path / "decode.yml"
    f.write_text(
        """\
pipeline:
  collector:
    app: {kind: file, path: /nonexistent/*.log, multiline: {pattern: '^\\s', match: after}}
    events: {kind: tcp, format: json}
  handler:
    out: {kind: log, inputs: [app, events]}
tests:
  - name: a stack trace is one message; a JSON line is its fields
    inputs:
      - instance: app
        lines: ["Traceback (most recent call last):", "  File x, line 1", "  boom", "next"]
      - instance: events
        lines: ['{"message": "hi", "user": "ann"}', "not json"]
    outputs:
      - instance: app
        count: 2
      - instance: out
        count: 4
      - instance: events
        count: 2
        conditions:
          - 'message == "hi" or "_jsonparsefailure" in tags'
  - name: the first message holds the three lines
    inputs:
      - instance: app
        lines: ["Traceback (most recent call last):", "  File x, line 1", "  boom", "next"]
    outputs:
      - instance: app
        count: 2
        conditions:
          - {field: message, matches: "^(Traceback \\\\(most recent call last\\\\):\\n  File x, line 1\\n  boom|next)$"}
  - name: the JSON line's keys are fields
    inputs:
      - {instance: events, lines: ['{"message": "hi", "user": "ann"}']}
    outputs:
      - instance: events
        conditions:
          - {field: fields.user, equals: ann}
          - {field: message, equals: hi}
"""
    )
    res = qframe("test", str(f))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 tests: 3 passed, 0 failed" in res.stdout


def test_cri_lines_are_joined_with_their_time_and_stream(tmp_path: Path) -> None:
    f = tmp_path / "cri.yml"
    f.write_text(
        """\
pipeline:
  collector:
    pods: {kind: file, path: /nonexistent/*.log, format: cri}
  handler:
    out: {kind: log, inputs: [pods]}
tests:
  - name: a line in two pieces is one message
    inputs:
      - instance: pods
        lines:
          - "2026-12-05T10:00:00.5Z stdout P hello "
          - "2026-12-05T10:00:01Z stderr F oops"
          - "2026-12-05T10:00:02Z stdout F world"
          - "not cri"
    outputs:
      - instance: pods
        count: 3
        conditions:
          - 'message in ["hello world", "oops", "not cri"]'
      - instance: out
        conditions:
          - 'message != "hello world" or fields.stream == "stdout"'
          - 'message != "not cri" or "_criparsefailure" in tags'
  - name: the joined line has its first piece's time
    inputs:
      - instance: pods
        lines: ["2026-12-05T10:00:00.5Z stdout P hello ", "2026-12-05T10:00:02Z stdout F world"]
    outputs:
      - instance: pods
        count: 1
        conditions:
          - {field: "@timestamp", equals: "2026-12-05T10:00:00.500000Z"}
          - {field: message, equals: hello world}
"""
    )
    res = qframe("test", str(f))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 tests: 2 passed, 0 failed" in res.stdout
