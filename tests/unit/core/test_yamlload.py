"""Hostile config files: every one is a ConfigError naming the file (and the line, the key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qframe import yamlload
from qframe.config import load_config, parse_config
from qframe.errors import ConfigError
from qframe.testing import make_registry

from .plugins import EXTRA

REG = make_registry(EXTRA)
GOOD = "collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, REG, file="p.yml")
    return [str(p) for p in info.value.problems]


def file_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, REG)
    return [str(p) for p in info.value.problems]


def laughs(levels: int, width: int = 10) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return GOOD + "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_where_the_expansion_passes_the_limit() -> None:
    # 10 levels of 10 aliases each would be 10**10 strings; the limit stops it at l4 (10**5)
    (p,) = problems(laughs(10))
    assert p.startswith("p.yml:9:5: l4: more than 100000 values once aliases are expanded")


def test_aliases_below_the_limit_are_expanded() -> None:
    # the same shape, small: accepted by the loader (then rejected as unknown top-level keys)
    ps = problems(laughs(3))
    assert ps == [f"p.yml:{5 + i}:1: l{i}: unknown top-level key" for i in range(3)]


def test_a_recursive_alias_is_refused_with_its_place() -> None:
    (p,) = problems("collector:\n  stdin: &s {inputs: [*s]}\n")
    assert p == (
        "p.yml:2:23: collector.stdin.inputs.0: "
        "recursive alias *s: it refers to a node that contains it"
    )


def test_a_duplicate_key_is_an_error_even_when_the_last_would_change_the_kind() -> None:
    ps = problems(
        "collector:\n  stdin: {}\nhandler:\n  out:\n    kind: log\n    inputs: stdin\n"
        "    kind: elasticsearch\n  out: {kind: log, inputs: stdin}\n"
    )
    assert ps == [
        "p.yml:7:5: handler.out.kind: duplicate key (first at line 5, column 5); give each key once",
        "p.yml:8:3: handler.out: duplicate key (first at line 4, column 3); give each key once",
    ]


def test_a_duplicate_top_level_key_and_a_flow_mapping_duplicate() -> None:
    ps = problems(
        "collector: {stdin: {}, stdin: {}}\nhandler:\n  log: {inputs: stdin}\nhandler: {}\n"
    )
    assert ps == [
        "p.yml:1:24: collector.stdin: duplicate key (first at line 1, column 13); give each key once",
        "p.yml:4:1: handler: duplicate key (first at line 2, column 1); give each key once",
    ]


def test_merge_keys_are_allowed_and_may_be_overridden() -> None:
    spec = parse_config(
        "collector:\n  stdin: {}\nhandler:\n  a: &base {kind: log, inputs: stdin, format: json}\n"
        "  b:\n    <<: *base\n    format: text\n",
        REG,
    )
    b = next(i for i in spec.instances if i.name == "b")
    assert (b.kind, b.options.format, b.resolved_inputs) == ("log", "text", ["collector.stdin"])


def test_more_than_one_document() -> None:
    (p,) = problems(GOOD + "---\ntick: 1s\n")
    assert (
        p == "p.yml:5:1: YAML syntax error: more than one document ('---'): a config file holds one"
    )


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_the_top_level_must_be_a_mapping(text: str) -> None:
    (p,) = problems(text)
    assert p.startswith("p.yml:1:1: the top level must be a mapping")


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    (p,) = problems("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert p.startswith("p.yml:1:") and "nested more than 64 levels deep" in p


def test_control_characters_are_refused_with_their_place() -> None:
    (p,) = problems(GOOD + "tick: 1\x00s\n")
    assert p == "p.yml:5:8: not a text file (control character #x0000)"


def test_non_utf8_bytes_are_refused_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(GOOD.encode() + b"# caf\xe9\n")
    assert file_problems(path) == [f"{path}:5:6: not UTF-8 text (byte 0xe9)"]


def test_binary_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yml"
    path.write_bytes(bytes(range(256)) * 4)
    # 0x80 on line 2 (after the byte 0x0a) is the first byte that is not UTF-8
    assert file_problems(path) == [f"{path}:2:118: not UTF-8 text (byte 0x80)"]


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yml"
    with path.open("wb") as f:
        f.truncate(1 << 30)  # a sparse GiB
    assert file_problems(path) == [f"{path}: larger than 256 KiB: not a config file?"]


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert [i.key for i in load_config(path, REG).instances] == ["collector.stdin", "handler.log"]


def test_unreadable_paths(tmp_path: Path) -> None:
    assert file_problems(tmp_path) == [f"{tmp_path}: cannot read: Is a directory"]
    missing = tmp_path / "nope.yml"
    assert file_problems(missing) == [f"{missing}: cannot read: No such file or directory"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: !!python/object:os.system {}\n",
            "p.yml:1:4: YAML error: could not determine a constructor",
        ),
        ("? [a, b]\n: c\n", "p.yml:1:3: YAML error: found unhashable key"),
        ("a: *nope\n", "p.yml:1:4: YAML syntax error: found undefined alias 'nope'"),
        ("a: [\n", "p.yml:2:1: YAML syntax error:"),
        ("a: &x 1\nb: &x 2\n", "p.yml:2:4: YAML syntax error: second occurrence"),
    ],
)
def test_other_malformed_documents(text: str, expected: str) -> None:
    (p,) = problems(text)
    assert p.startswith(expected)


def test_the_limits_are_the_documented_ones() -> None:
    assert (yamlload.MAX_BYTES, yamlload.MAX_DEPTH, yamlload.MAX_NODES) == (256 * 1024, 64, 100_000)


def test_a_section_that_is_not_a_mapping_next_to_a_consumer() -> None:
    # was a TypeError (iterating `true`) while resolving the handler's inputs
    ps = problems("collector: true\nhandler:\n  log: {inputs: stdin}\n")
    assert ps[0] == "p.yml:1:1: collector: expected a mapping of instance names to their options"


def test_a_hostile_set_value_stays_a_plain_string() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(GOOD, REG, file="p.yml", sets=["handler.log.format=&a [*a]"])
    (p,) = (str(x) for x in info.value.problems)
    assert p.startswith("p.yml:4:3: handler.log.format:") and "'&a [*a]'" in p
    spec = parse_config(GOOD, REG, file="p.yml", sets=["handler.log.format=json", "tick=2s"])
    assert (spec.tick, spec.instances[1].options.format) == (2.0, "json")


def test_an_index_template_file_is_read_with_the_same_guards(tmp_path: Path) -> None:
    import subprocess
    import sys

    template = tmp_path / "template.yml"
    template.write_text("mappings: &m {properties: {x: *m}}\n")
    cfg = tmp_path / "p.yml"
    cfg.write_text(
        "collector: {stdin: {}}\nhandler:\n  es: {kind: elasticsearch, inputs: stdin, "
        f"url: 'http://127.0.0.1:1', template: '{template}'}}\n"
    )
    qframe = str(Path(sys.executable).with_name("qframe"))
    res = subprocess.run(
        [qframe, "run", "-c", str(cfg)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
    )
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err
    assert (
        f"cannot start: handler.es: {template}:1:31: mappings.properties.x: recursive alias *m"
        in err
    )
