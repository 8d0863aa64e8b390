"""Configuration: every kind of error names the file, the instance and the key."""

from __future__ import annotations

import pytest

from qframe.config import parse_config
from qframe.errors import ConfigError
from qframe.testing import make_registry

from .plugins import EXTRA

REG = make_registry(EXTRA)


def problems(text: str, **kw: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, REG, file="p.yml", **kw)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def test_a_good_config_compiles_into_a_graph() -> None:
    spec = parse_config(
        "tick: 2s\nhttp: 127.0.0.1:8999\ndata-dir: /tmp/x\nshutdown-timeout: 3s\nlog: {level: debug}\n"
        "collector:\n  stdin: {}\nfilter:\n  id: {inputs: stdin}\nhandler:\n  log: {inputs: 'id, stdin', format: json}\n",
        REG,
    )
    assert (spec.tick, spec.http, spec.data_dir, spec.shutdown_timeout, spec.log_level) == (
        2.0,
        "127.0.0.1:8999",
        "/tmp/x",
        3.0,
        "debug",
    )
    log = next(i for i in spec.instances if i.name == "log")
    assert log.kind == "log" and log.resolved_inputs == ["filter.id", "collector.stdin"]
    assert "filter.id (kind id): inputs collector.stdin → handler.log" in spec.describe()


def test_unknown_kind_suggests_the_closest() -> None:
    (p,) = problems("collector:\n  stdn: {}\nhandler:\n  log: {inputs: stdn}\n")
    assert p.startswith(
        "p.yml:2:3: collector.stdn.kind: unknown collector kind 'stdn' (did you mean 'stdin'?)"
    )


def test_unknown_option_suggests_the_closest_and_gives_the_line() -> None:
    (p,) = problems(
        "collector:\n  stdin: {}\nhandler:\n  out:\n    kind: log\n    inputs: stdin\n    fromat: json\n"
    )
    assert (
        p == "p.yml:7:5: handler.out.fromat: unknown option for kind 'log' (did you mean 'format'?)"
    )


def test_wrong_type_names_the_key() -> None:
    (p,) = problems(
        "collector:\n  stdin: {max-line-bytes: lots}\nhandler:\n  log: {inputs: stdin}\n"
    )
    assert p.startswith("p.yml:2:11: collector.stdin.max-line-bytes: expected a size")


def test_wrong_choice_names_the_key() -> None:
    (p,) = problems("collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin, format: xml}\n")
    assert "handler.log.format:" in p and "'xml'" in p


def test_missing_and_unknown_inputs() -> None:
    ps = problems(
        "collector:\n  stdin: {}\nfilter:\n  id: {}\nhandler:\n  log: {inputs: [stdim]}\n"
    )
    assert any("filter.id.inputs: missing" in p for p in ps)
    assert any("handler.log.inputs: unknown input 'stdim' (did you mean 'stdin'?)" in p for p in ps)


def test_cycles_are_rejected() -> None:
    ps = problems(
        "collector:\n  stdin: {}\nfilter:\n  a: {kind: id, inputs: [stdin, c]}\n  b: {kind: id, inputs: [a]}\n"
        "  c: {kind: id, inputs: [b]}\nhandler:\n  log: {inputs: c}\n"
    )
    assert len(ps) == 1 and "inputs: cycle:" in ps[0]
    assert all(name in ps[0] for name in ("filter.a", "filter.b", "filter.c"))


def test_yaml_syntax_errors_give_line_and_column() -> None:
    (p,) = problems("collector:\n  stdin: {\nhandler: [\n")
    assert p.startswith("p.yml:") and "YAML syntax error" in p
    line = int(p.split(":")[1])
    assert line >= 2


def test_all_problems_are_reported_at_once() -> None:
    ps = problems(
        "tik: 5s\ncollector:\n  stdn: {}\nhandler:\n  log: {inputs: stdin, fromat: json}\n"
    )
    assert len(ps) == 3
    assert any("tik: unknown top-level key (did you mean 'tick'?)" in p for p in ps)


def test_handlers_cannot_be_inputs_and_ambiguous_names_must_be_qualified() -> None:
    ps = problems(
        "collector:\n  x: {kind: stdin}\nfilter:\n  x: {kind: id, inputs: [stdin2]}\n  y: {kind: id, inputs: [x]}\n"
        "handler:\n  h: {kind: log, inputs: [x]}\n  h2: {kind: log, inputs: [h]}\n"
    )
    assert any("input 'x' is ambiguous: write collector.x or filter.x" in p for p in ps)
    assert any("input 'h' is a handler" in p for p in ps)


def test_qualified_inputs_pick_the_type() -> None:
    spec = parse_config(
        "collector:\n  x: {kind: stdin}\nfilter:\n  x: {kind: id, inputs: [collector.x]}\nhandler:\n  h: {kind: log, inputs: [filter.x]}\n",
        REG,
    )
    assert [i.resolved_inputs for i in spec.instances] == [[], ["collector.x"], ["filter.x"]]


def test_env_expansion_with_defaults_and_missing_variables() -> None:
    text = "collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin, path: '${OUT_DIR:-/tmp}/${NAME}.json'}\n"
    spec = parse_config(text, REG, env={"NAME": "x"})
    assert spec.instances[1].options.path == "/tmp/x.json"
    spec = parse_config(text, REG, env={"NAME": "y", "OUT_DIR": "/var/log"})
    assert spec.instances[1].options.path == "/var/log/y.json"
    (p,) = problems(text, env={})
    assert "handler.log.path: environment variable ${NAME} is not set" in p


def test_set_overrides_any_key_with_typed_values() -> None:
    text = "collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin}\n"
    spec = parse_config(
        text,
        REG,
        sets=[
            "handler.log.format=json",
            "tick=250ms",
            "log.level=debug",
            "collector.stdin.max-line-bytes=64",
        ],
    )
    assert spec.instances[1].options.format == "json"
    assert spec.instances[0].options.max_line_bytes == 64
    assert spec.tick == 0.25 and spec.log_level == "debug"
    (p,) = problems(text, sets=["handler.log.format=xml"])
    assert "handler.log.format" in p


def test_warnings_for_unconsumed_outputs_and_failure_branches() -> None:
    spec = parse_config(
        "collector:\n  stdin: {}\n  extra: {kind: stdin}\nfilter:\n  even: {inputs: stdin}\nhandler:\n  log: {inputs: even}\n",
        REG,
    )
    assert any("collector.extra: nobody consumes its output" in w for w in spec.warnings)
    assert any("filter.even: messages it does not match" in w for w in spec.warnings)


def test_bad_durations_sizes_and_http() -> None:
    ps = problems(
        "tick: soon\nhttp: nowhere\ncollector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin}\n"
    )
    assert any(p.startswith("p.yml:1:1: tick:") for p in ps)
    assert any("http: expected HOST:PORT" in p for p in ps)
