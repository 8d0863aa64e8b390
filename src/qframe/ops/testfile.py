"""``qframe test FILE...``: pipeline unit tests that need no services.

The collectors a test names get its ``inputs`` instead of their source (``lines``: one log
message per line; ``messages``: canonical-JSON dicts as given), the other collectors get
nothing, the handlers become captures; the filters run as configured.  Each ``outputs``
entry checks what an instance (a filter, a handler, or a collector) put out.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from ..condition import ConditionError, compile_condition
from ..config import SECTIONS, parse_config
from ..errors import ConfigError
from ..jsonline import decode_messages
from ..logs import setup_logging
from ..message import Message
from ..runtime.pipeline import Pipeline
from ..testing import make_registry

__all__ = ["test_command"]

EXIT_FAILED = 1
EXIT_INVALID = 2
OPERATORS = ("equals", "not_equals", "matches", "contains", "exists")
_DROP_GLOBALS = ("http", "http-tap", "http-token", "data-dir")
_MISSING = object()


class InvalidTest(Exception):
    """A problem with a test file (exit 2)."""


@dataclass
class Case:
    name: str
    inputs: dict[str, list[Any]] = field(default_factory=dict)  # collector -> messages
    outputs: list[dict[str, Any]] = field(default_factory=list)


def _fail(file: str, where: str, text: str) -> InvalidTest:
    return InvalidTest(f"{file}: {where}: {text}")


def load_test_file(path: Path) -> tuple[str, str, list[Case]]:
    """(config file name, config text, cases); InvalidTest for a malformed file."""
    f = str(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidTest(f"{f}: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail(f, "(top)", "expected a mapping with `config` (or `pipeline`) and `tests`")
    unknown = set(doc) - {"config", "pipeline", "tests"}
    if unknown:
        raise _fail(
            f, ", ".join(sorted(map(str, unknown))), "unknown key (config, pipeline, tests)"
        )
    if ("config" in doc) == ("pipeline" in doc):
        raise _fail(f, "config", "give exactly one of `config: FILE` and `pipeline: {…}`")
    if "config" in doc:
        if not isinstance(doc["config"], str):
            raise _fail(f, "config", "expected a file path (relative to the test file)")
        cfg = path.parent / doc["config"]
        try:
            cfg_name, cfg_text = str(cfg), cfg.read_text()
        except OSError as exc:
            raise _fail(f, "config", f"cannot read {cfg}: {exc.strerror}") from exc
    else:
        if not isinstance(doc["pipeline"], dict):
            raise _fail(f, "pipeline", "expected a mapping (a config inline)")
        cfg_name, cfg_text = f"{f} (pipeline)", yaml.safe_dump(doc["pipeline"])
    tests = doc.get("tests")
    if not isinstance(tests, list) or not tests:
        raise _fail(f, "tests", "expected a non-empty list of tests")
    cases = [_case(f, i, t) for i, t in enumerate(tests)]
    return cfg_name, cfg_text, cases


def _case(f: str, i: int, t: Any) -> Case:
    where = f"tests[{i}]"
    if not isinstance(t, dict):
        raise _fail(f, where, "expected a mapping with name, inputs, outputs")
    unknown = set(t) - {"name", "inputs", "outputs"}
    if unknown:
        raise _fail(
            f, f"{where}.{sorted(map(str, unknown))[0]}", "unknown key (name, inputs, outputs)"
        )
    case = Case(str(t.get("name", f"test {i + 1}")))
    inputs, outputs = t.get("inputs", []), t.get("outputs")
    if not isinstance(inputs, list):
        raise _fail(f, f"{where}.inputs", "expected a list")
    for j, inp in enumerate(inputs):
        w = f"{where}.inputs[{j}]"
        if not isinstance(inp, dict) or not isinstance(inp.get("instance"), str):
            raise _fail(f, w, "expected {instance: NAME, lines: [...]} or {instance, messages}")
        extra = set(inp) - {"instance", "lines", "messages"}
        if extra or ("lines" in inp) == ("messages" in inp):
            raise _fail(f, w, "give `instance` and exactly one of `lines`, `messages`")
        got = case.inputs.setdefault(inp["instance"], [])
        if "lines" in inp:
            lines = inp["lines"]
            if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                raise _fail(f, f"{w}.lines", "expected a list of strings")
            got.extend(lines)
        else:
            msgs = inp["messages"]
            if not isinstance(msgs, list) or not all(isinstance(x, dict) for x in msgs):
                raise _fail(f, f"{w}.messages", "expected a list of message mappings")
            for k, m in enumerate(msgs):
                try:
                    Message.from_dict(m)
                except (TypeError, ValueError, KeyError) as exc:
                    raise _fail(f, f"{w}.messages[{k}]", f"not a message: {exc}") from exc
            got.extend(msgs)
    if not isinstance(outputs, list) or not outputs:
        raise _fail(f, f"{where}.outputs", "expected a non-empty list")
    for j, out in enumerate(outputs):
        w = f"{where}.outputs[{j}]"
        if not isinstance(out, dict) or not isinstance(out.get("instance"), str):
            raise _fail(f, w, "expected {instance: NAME, count: N, conditions: [...]}")
        extra = set(out) - {"instance", "count", "conditions"}
        if extra:
            raise _fail(
                f, f"{w}.{sorted(map(str, extra))[0]}", "unknown key (instance, count, conditions)"
            )
        if "count" in out and (not isinstance(out["count"], int) or out["count"] < 0):
            raise _fail(f, f"{w}.count", "expected a number >= 0")
        conds = out.get("conditions", [])
        if not isinstance(conds, list):
            raise _fail(f, f"{w}.conditions", "expected a list")
        for k, c in enumerate(conds):
            cw = f"{w}.conditions[{k}]"
            if isinstance(c, str):  # an expression of the `when` condition language
                try:
                    compile_condition(c)
                except ConditionError as exc:
                    raise _fail(f, cw, f"bad condition: {exc}") from exc
                continue
            if not isinstance(c, dict) or not isinstance(c.get("field"), str):
                raise _fail(f, cw, "expected {field: PATH, <operator>: VALUE}")
            ops = [o for o in c if o != "field"]
            if len(ops) != 1 or ops[0] not in OPERATORS:
                raise _fail(f, cw, f"expected one operator of {', '.join(OPERATORS)}, got {ops}")
            if ops[0] == "matches":
                try:
                    re.compile(str(c["matches"]))
                except re.error as exc:
                    raise _fail(f, f"{cw}.matches", f"bad regular expression: {exc}") from exc
            if ops[0] == "exists" and not isinstance(c["exists"], bool):
                raise _fail(f, f"{cw}.exists", "expected true or false")
        case.outputs.append(out)
    return case


def _lookup(d: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(d, dict) and part in d:
            d = d[part]
        elif isinstance(d, list) and part.isdigit() and int(part) < len(d):
            d = d[int(part)]
        else:
            return _MISSING
    return d


def check(cond: dict[str, Any], msg: dict[str, Any]) -> tuple[bool, Any]:
    """(passed, the value found) of one condition on one message's canonical JSON."""
    got = _lookup(msg, cond["field"])
    op = next(o for o in cond if o != "field")
    want = cond[op]
    if op == "exists":
        return (got is not _MISSING) == want, got
    if got is _MISSING:
        return op == "not_equals", got
    if op == "equals":
        return got == want, got
    if op == "not_equals":
        return got != want, got
    if op == "matches":
        text = got if isinstance(got, str) else orjson.dumps(got).decode()
        return re.search(str(want), text) is not None, got
    if isinstance(got, list | dict):  # contains
        return want in got, got
    return str(want) in str(got), got


def _show(v: Any) -> str:
    return "(missing)" if v is _MISSING else orjson.dumps(v).decode()


def decode_lines(options: Any, entries: list[Any]) -> list[Any]:
    """The test's inputs of one collector, each run of ``lines`` decoded as that collector
    decodes what it reads: its ``format: cri``/``docker-json`` (file: pieces joined, time
    and stream), its ``multiline`` (file), its ``format: json`` (file, tcp, docker-logs);
    other collectors make one log message of each line, as ``stdin`` does."""
    out: list[Any] = []
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        fmt = getattr(options, "format", None)
        # (text, time, stream, tags) of each whole line
        whole: list[tuple[str, float | None, str | None, tuple[str, ...]]] = [
            (t, None, None, ()) for t in run
        ]
        run.clear()
        if fmt in ("cri", "docker-json"):
            from ..plugins.collectors.file.cri import ContainerLines

            cl = ContainerLines(fmt, getattr(options, "max_line_bytes", 1 << 20))
            got: list[Any] = []
            for i, (t, *_) in enumerate(whole):
                cl.take(t, i, got)
            cl.flush(None, got)
            whole = [(t, ts, stream, tags) for t, _off, ts, stream, _cut, tags in got]
        ml = getattr(options, "multiline", None)
        if ml is not None:
            from ..plugins.collectors.file.multiline import StreamLines

            # joined per stream (a container log file's stdout and stderr never join)
            joiner = StreamLines(ml)
            events: list[Any] = []
            for i, w in enumerate(whole):
                joiner.feed(w[0], i, i + 1, events, stream=w[2] or "")
            events += joiner.flush()
            # a joined message has the time, stream and tags of its first line
            whole = [(e[0], *whole[e[1]][1:]) for e, _ in events]
        msgs = []
        for text, ts, stream, tags in whole:
            m = Message(text)
            if ts is not None:
                m.time = ts
            if stream is not None:
                m.fields["stream"] = stream
            for tag in tags:
                m.add_tag(tag)
            msgs.append(m)
        if fmt == "json":
            decode_messages(msgs)
        out.extend(orjson.loads(m.to_json()) for m in msgs)

    for e in entries:
        if isinstance(e, str):
            run.append(e)
        else:
            flush()
            out.append(e)
    flush()
    return out


def _test_config(
    data: dict[str, Any], case: Case, data_dir: str, options: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The pipeline a case runs, and the capture handler that shows each output instance."""
    cfg = {k: v for k, v in data.items() if k not in _DROP_GLOBALS}
    cfg["data-dir"] = data_dir
    sections = {s: dict(data.get(s) or {}) for s in SECTIONS}
    cfg["collector"] = {
        name: {
            "kind": "list",
            "messages": decode_lines(options.get(str(name)), case.inputs.get(str(name), [])),
        }
        for name in sections["collector"]
    }
    handlers: dict[str, Any] = {}
    for name, opts in sections["handler"].items():
        opts = opts if isinstance(opts, dict) else {}
        h: dict[str, Any] = {"kind": "capture"}
        for k in ("inputs", "source-success"):
            if k in opts:
                h[k] = opts[k]
        handlers[name] = h
    shown: dict[str, str] = {}
    for out in case.outputs:
        name = out["instance"]
        if name in handlers:
            shown[name] = name
        elif name in sections["filter"] or name in sections["collector"]:
            cap = f"qframe-test-{name}"
            kind = "filter" if name in sections["filter"] else "collector"
            handlers[cap] = {
                "kind": "capture",
                "inputs": [f"{kind}.{name}"],
                "source-success": "any",
            }
            shown[name] = cap
    cfg["filter"] = sections["filter"]
    cfg["handler"] = handlers
    return {k: v for k, v in cfg.items() if v != {}}, shown


async def _run_case(
    spec_text: str, file: str, shown: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    registry = make_registry()
    spec = parse_config(spec_text, registry, file=file)
    spec.shutdown_timeout = 10.0
    pipeline = Pipeline(spec, registry.plugins)
    await pipeline.start()
    try:
        await asyncio.wait_for(pipeline.wait(), 30)
    except TimeoutError:
        await pipeline.shutdown()
    result = {}
    for name, cap in shown.items():
        node = pipeline.find(f"handler.{cap}")
        assert node is not None
        msgs = [orjson.loads(m.to_json()) for m in node.plugin.messages]  # type: ignore[attr-defined]
        if cap != name:  # the test's own capture: not part of the message's path
            for m in msgs:
                m["source_path"] = m.get("source_path", [])[:-1]
        result[name] = msgs
    return result


def run_file(path: Path, echo: Any) -> tuple[int, int]:
    """Run one test file: (passed, failed); InvalidTest or ConfigError when it cannot run."""
    cfg_name, cfg_text, cases = load_test_file(path)
    registry = make_registry()
    spec = parse_config(cfg_text, registry, file=cfg_name)  # the config as written
    collectors = {i.name for i in spec.instances if i.type == "collector"}
    options = {i.name: i.options for i in spec.instances if i.type == "collector"}
    names = {i.name for i in spec.instances}
    for i, case in enumerate(cases):
        for inst in case.inputs:
            if inst not in collectors:
                raise _fail(
                    str(path), f"tests[{i}].inputs", f"{inst!r} is not a collector of {cfg_name}"
                )
        for out in case.outputs:
            if out["instance"] not in names:
                raise _fail(
                    str(path),
                    f"tests[{i}].outputs",
                    f"no instance {out['instance']!r} in {cfg_name}",
                )
    data = yaml.safe_load(cfg_text) or {}
    passed = failed = 0
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="qframe-test-") as tmp:
            cfg, shown = _test_config(data, case, tmp, options)
            got = asyncio.run(_run_case(yaml.safe_dump(cfg), f"{cfg_name} [test]", shown))
        problems = _diff(case, got)
        if problems:
            failed += 1
            echo(f"FAIL {path}: {case.name}")
            for p in problems:
                echo(f"  {p}")
        else:
            passed += 1
            echo(f"ok   {path}: {case.name}")
    return passed, failed


def _diff(case: Case, got: dict[str, list[dict[str, Any]]]) -> list[str]:
    problems: list[str] = []
    for out in case.outputs:
        name = out["instance"]
        msgs = got.get(name, [])
        if "count" in out and len(msgs) != out["count"]:
            problems.append(f"{name}: count: expected {out['count']}, got {len(msgs)}")
        conds = out.get("conditions", [])
        if conds and not msgs:
            problems.append(f"{name}: no message to check the conditions on")
        for c in conds:
            if isinstance(c, str):
                test = compile_condition(c).test
                bad_w = [(i, m) for i, m in enumerate(msgs) if not test(Message.from_dict(m))]
                for i, m in bad_w[:3]:
                    problems.append(
                        f"{name}[{i}]: {c!r} does not hold\n"
                        f"      message: {orjson.dumps(m).decode()}"
                    )
                if len(bad_w) > 3:
                    problems.append(f"{name}: … and {len(bad_w) - 3} more messages fail {c!r}")
                continue
            op = next(o for o in c if o != "field")
            bad = [(i, v, m) for i, m in enumerate(msgs) for ok, v in [check(c, m)] if not ok]
            for i, v, m in bad[:3]:
                problems.append(
                    f"{name}[{i}]: {c['field']} {op} {_show(c[op])}: got {_show(v)}\n"
                    f"      message: {orjson.dumps(m).decode()}"
                )
            if len(bad) > 3:
                problems.append(f"{name}: … and {len(bad) - 3} more messages fail that condition")
    return problems


@click.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def test_command(files: tuple[Path, ...]) -> None:
    """Run pipeline unit tests (YAML files: a config, inputs, expected outputs).

    Exit 0 when all pass, 1 when one fails (each failed condition shown), 2 for an invalid
    test file or config.
    """
    setup_logging("error")
    total_ok = total_bad = 0
    for f in files:
        try:
            ok, bad = run_file(f, click.echo)
        except InvalidTest as exc:
            click.echo(f"test file error: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        except ConfigError as exc:
            for p in exc.problems:
                click.echo(f"config error: {p}", err=True)
            sys.exit(EXIT_INVALID)
        total_ok += ok
        total_bad += bad
    click.echo(f"{total_ok + total_bad} tests: {total_ok} passed, {total_bad} failed")
    sys.exit(EXIT_FAILED if total_bad else 0)
