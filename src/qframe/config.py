"""Configuration: YAML → a validated :class:`PipelineSpec` (pure: no I/O but reading the file).

Every problem is collected (not only the first) as a :class:`~qframe.errors.ConfigProblem`
naming the file, the line, the plugin instance and the key; :class:`ConfigError` carries them.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .buffer.orphans import orphaned_buffers
from .errors import ConfigError, ConfigProblem
from .logs import LEVELS
from .options import PluginOptions, is_secret, parse_duration, to_kebab
from .registry import Registry
from .urls import redact_text
from .yamlload import load_value, load_yaml, read_text

if TYPE_CHECKING:
    from .plugin import Plugin

__all__ = ["InstanceSpec", "PipelineSpec", "load_config", "parse_config"]

SECTIONS = ("collector", "filter", "handler")
GLOBAL_KEYS = (
    "log",
    "tick",
    "http",
    "http-tap",
    "http-token",
    "data-dir",
    "shutdown-timeout",
    *SECTIONS,
)


@dataclass
class InstanceSpec:
    type: str  # collector | filter | handler
    name: str
    kind: str
    options: PluginOptions
    resolved_inputs: list[str] = field(default_factory=list)  # keys "type.name"

    @property
    def key(self) -> str:
        return f"{self.type}.{self.name}"

    @property
    def inputs(self) -> list[str]:
        return self.resolved_inputs


@dataclass
class PipelineSpec:
    file: str
    log_level: str = "info"
    tick: float = 5.0
    http: str | None = None
    http_tap: bool = False  # /tap may stream message contents
    http_token: str | None = None  # bearer token for /tap, /graph and /ui
    data_dir: str = ".qframe"
    shutdown_timeout: float = 30.0
    instances: list[InstanceSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The compiled graph, one line per instance (``validate`` prints it)."""
        subs: dict[str, list[str]] = {}
        for inst in self.instances:
            for up in inst.resolved_inputs:
                subs.setdefault(up, []).append(inst.key)
        lines = [f"tick {self.tick:g}s, data-dir {self.data_dir}, http {self.http or 'off'}"]
        for inst in self.instances:
            ins = ", ".join(inst.resolved_inputs) or "-"
            outs = ", ".join(subs.get(inst.key, [])) or "-"
            ss = inst.options.source_success
            branch = f" [source-success {ss}]" if ss != "true" else ""
            if inst.options.when:
                branch += f" [when {' '.join(inst.options.when.split())}]"
            lines.append(f"{inst.key} (kind {inst.kind}){branch}: inputs {ins} → {outs}")
        return "\n".join(lines)


# -- YAML with positions (the guarded loader is in yamlload) ------------------------------


def _split_path(path: tuple[str, ...]) -> tuple[str, str]:
    """A key path as a problem names it: ("handler.es", "url") or ("", "tick")."""
    if len(path) >= 2 and path[0] in SECTIONS:
        return ".".join(path[:2]), ".".join(path[2:])
    return "", ".".join(path)


def _load_yaml(text: str, file: str) -> tuple[Any, dict[tuple[str, ...], tuple[int, int]]]:
    return load_yaml(text, file, _split_path)


# -- ${VAR} expansion -----------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}|\$\$")


def _expand(
    value: Any,
    env: dict[str, str],
    path: tuple[str, ...],
    missing: list[tuple[tuple[str, ...], str]],
) -> Any:
    if isinstance(value, str) and "$" in value:

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in env and (env[name] != "" or default is None):
                return env[name]
            if default is not None:
                return default
            missing.append((path, name))
            return ""

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env, (*path, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, (*path, str(i)), missing) for i, v in enumerate(value)]
    return value


# -- --set ----------------------------------------------------------------------------------


def _apply_set(
    data: dict[str, Any], assignment: str, file: str, problems: list[ConfigProblem]
) -> None:
    if "=" not in assignment:
        problems.append(
            ConfigProblem(
                "--set", "", assignment, "expected KEY=VALUE (e.g. handler.es.url=http://…)"
            )
        )
        return
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    value = load_value(raw) if raw.strip() else ""
    if parts[0] in SECTIONS:
        if len(parts) < 3:
            problems.append(ConfigProblem("--set", "", key, f"expected {parts[0]}.NAME.KEY=VALUE"))
            return
    target: Any = data
    for p in parts[:-1]:
        nxt = target.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            target[p] = nxt
        target = nxt
    target[parts[-1]] = value


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- the whole thing --------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str],
    registry: Registry,
    sets: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> PipelineSpec:
    file = os.fspath(path)
    text = read_text(file)
    return parse_config(text, registry, file=file, sets=sets, env=env)


def parse_config(
    text: str,
    registry: Registry,
    file: str = "<config>",
    sets: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> PipelineSpec:
    """The pipeline a configuration text describes; every problem found in it at once.

    The steps: read the YAML (with positions), apply ``--set`` and expand ``${VAR}``,
    read the global keys, read the instances (each one's options validated by its
    plugin's schema), resolve their ``inputs`` into a graph and look for cycles; any
    problem raises :class:`ConfigError` with all of them.  Then the warnings.
    """
    data, pos = _load_yaml(text, file)
    problems = _Problems(file, pos)
    data = _prepare(data, sets, env, problems)
    spec = PipelineSpec(file=file)
    _read_globals(data, spec, problems)
    raw_inputs = _read_instances(data, registry, spec, problems)
    _resolve_inputs(data, spec, raw_inputs, problems)
    _find_cycles(spec, problems)
    if not spec.instances and not problems:
        problems.add("", "", "no plugin instances: add a collector and a handler")
    if problems:
        raise ConfigError(list(problems))
    spec.warnings += _warnings(spec, registry)
    spec.warnings += orphaned_buffers(spec.data_dir, spec.instances)
    return spec


class _Problems(list[ConfigProblem]):
    """The problems found so far, each placed at the nearest line known along its key path."""

    def __init__(self, file: str, pos: dict[tuple[str, ...], tuple[int, int]]) -> None:
        super().__init__()
        self.file = file
        self.pos = pos

    def add(self, where: str, key: str, msg: str, path: tuple[str, ...] | None = None) -> None:
        line = col = None
        if path is not None:
            # the nearest recorded position along the path
            for i in range(len(path), 0, -1):
                if path[:i] in self.pos:
                    line, col = self.pos[path[:i]]
                    break
        self.append(ConfigProblem(self.file, where, key, msg, line, col))


def _prepare(
    data: Any, sets: list[str] | None, env: dict[str, str] | None, problems: _Problems
) -> dict[str, Any]:
    """The top level as a mapping, with the ``--set`` assignments applied and ``${VAR}``
    expanded (from ``env``, default: the process environment)."""
    file = problems.file
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    "",
                    "",
                    "the top level must be a mapping (collector:, filter:, handler:, …)",
                )
            ]
        )
    for s in sets or []:
        _apply_set(data, s, file, problems)
    missing: list[tuple[tuple[str, ...], str]] = []
    data = _expand(data, dict(os.environ) if env is None else env, (), missing)
    for p, var in missing:
        where = ".".join(p[:2]) if p and p[0] in SECTIONS else ""
        key = ".".join(p[2:]) if p and p[0] in SECTIONS else ".".join(p)
        problems.add(
            where,
            key,
            f"environment variable ${{{var}}} is not set and has no default (use ${{{var}:-default}})",
            p,
        )
    return data


def _read_globals(data: dict[str, Any], spec: PipelineSpec, problems: _Problems) -> None:
    """The top-level keys other than the sections: log, tick, http, data-dir, …"""
    problem = problems.add
    for k in data:
        if k not in GLOBAL_KEYS:
            problem(
                "", str(k), f"unknown top-level key{_suggest(str(k), list(GLOBAL_KEYS))}", (str(k),)
            )
    logcfg = data.get("log")
    if logcfg is not None:
        if isinstance(logcfg, dict):
            level = str(logcfg.get("level", "info")).lower()
            for k in logcfg:
                if k != "level":
                    problem(
                        "log",
                        str(k),
                        f"unknown option{_suggest(str(k), ['level'])}",
                        ("log", str(k)),
                    )
        else:
            level = str(logcfg).lower()
        if level not in LEVELS:
            problem(
                "log",
                "level",
                f"unknown level {level!r}; one of {', '.join(LEVELS)}",
                ("log", "level"),
            )
        else:
            spec.log_level = level
    for key, attr in (("tick", "tick"), ("shutdown-timeout", "shutdown_timeout")):
        if key in data:
            try:
                v = parse_duration(data[key])
                if v <= 0:
                    raise ValueError("must be positive")
                setattr(spec, attr, v)
            except ValueError as exc:
                problem("", key, str(exc), (key,))
    if "http" in data:
        h = data["http"]
        if h in (None, False, "", "off"):
            spec.http = None
        elif isinstance(h, str | int) and _valid_listen(str(h)):
            spec.http = str(h)
        else:
            problem("", "http", f"expected HOST:PORT (e.g. 127.0.0.1:8123), got {h!r}", ("http",))
    if "http-tap" in data:
        if isinstance(data["http-tap"], bool):
            spec.http_tap = data["http-tap"]
        else:
            problem(
                "", "http-tap", f"expected true or false, got {data['http-tap']!r}", ("http-tap",)
            )
    if data.get("http-token") is not None:
        tok = data["http-token"]
        if isinstance(tok, str) and tok.strip() and tok == tok.strip():
            spec.http_token = tok
        else:
            problem(
                "",
                "http-token",
                "expected a non-empty string without spaces around it",
                ("http-token",),
            )
    if "data-dir" in data:
        if isinstance(data["data-dir"], str) and data["data-dir"]:
            spec.data_dir = data["data-dir"]
        else:
            problem("", "data-dir", "expected a directory path", ("data-dir",))


def _read_instances(
    data: dict[str, Any], registry: Registry, spec: PipelineSpec, problems: _Problems
) -> dict[str, list[str]]:
    """Each instance of the collector, filter and handler sections, its options validated
    by its plugin's schema, added to ``spec``; returns their ``inputs`` as written."""
    problem = problems.add
    raw_inputs: dict[str, list[str]] = {}
    for section in SECTIONS:
        block = data.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            problem(
                section, "", "expected a mapping of instance names to their options", (section,)
            )
            continue
        for name, opts in block.items():
            name = str(name)
            where = f"{section}.{name}"
            ppath = (section, name)
            if opts is None:
                opts = {}
            if not isinstance(opts, dict):
                problem(where, "", "expected a mapping of options (or {})", ppath)
                continue
            kind = str(opts.get("kind") or name)
            cls = _plugin_class(registry, section, kind, opts, where, ppath, problems)
            if cls is None:
                continue
            options = _validate_options(cls, kind, opts, where, ppath, problems)
            if options is None:
                continue
            options.kind = kind
            inst = InstanceSpec(section, name, kind, options)
            spec.instances.append(inst)
            raw_inputs[inst.key] = list(options.inputs)
            if section == "collector" and options.when:
                problem(where, "when", "only filters and handlers take `when`", (*ppath, "when"))
            if options.workers != 1:
                refusal = (
                    cls.workers_refusal(options)  # type: ignore[attr-defined]
                    if section in ("filter", "collector")
                    else "only filters and the tcp, gelf and file collectors take `workers`"
                )
                if refusal:
                    problem(where, "workers", refusal, (*ppath, "workers"))
            if section != "collector" and not options.inputs:
                problem(
                    where,
                    "inputs",
                    "missing: a filter or handler must list the instances it takes messages from",
                    ppath,
                )
    return raw_inputs


def _plugin_class(
    registry: Registry,
    section: str,
    kind: str,
    opts: dict[str, Any],
    where: str,
    ppath: tuple[str, ...],
    problems: _Problems,
) -> type[Plugin] | None:
    """The plugin class of an instance's ``kind``, or None (a problem: unknown, or broken)."""
    cls = registry.get(section, kind)
    if cls is not None:
        return cls
    broken = registry.broken.get((section, kind))
    if broken:
        problems.add(
            where,
            "kind",
            f"{section} kind {kind!r} failed to load: {broken}",
            (*ppath, "kind"),
        )
    else:
        known = registry.kinds(section)
        problems.add(
            where,
            "kind",
            f"unknown {section} kind {kind!r}{_suggest(kind, known)}; known: {', '.join(known) or 'none'}",
            (*ppath, "kind") if "kind" in opts else ppath,
        )
    return None


def _validate_options(
    cls: type[Plugin],
    kind: str,
    opts: dict[str, Any],
    where: str,
    ppath: tuple[str, ...],
    problems: _Problems,
) -> PluginOptions | None:
    """An instance's options validated by its plugin's schema, or None (a problem per error)."""
    try:
        return cls.Options.model_validate(opts)
    except ValidationError as exc:
        fields = [to_kebab(f) for f in cls.Options.model_fields]
        for err in exc.errors():
            loc = [str(x) for x in err["loc"]]
            key = ".".join(loc)
            kpath = (*ppath, *loc)
            if err["type"] == "extra_forbidden" and len(loc) == 1:
                problems.add(
                    where,
                    key,
                    f"unknown option for kind {kind!r}{_suggest(loc[0], fields)}",
                    kpath,
                )
            elif err["type"] == "missing":
                problems.add(where, key, "required option is missing", ppath)
            else:
                msg = err["msg"].removeprefix("Value error, ")
                if loc and "got " not in msg and not is_secret(cls.Options, loc[0]):
                    msg += f" (got {err.get('input')!r})"
                problems.add(where, key, redact_text(msg), kpath)
        return None


def _resolve_inputs(
    data: dict[str, Any],
    spec: PipelineSpec,
    raw_inputs: dict[str, list[str]],
    problems: _Problems,
) -> None:
    """Each instance's ``inputs`` (a name, or ``type.name`` when names clash) resolved to
    the keys of the instances it takes messages from (``resolved_inputs``)."""
    by_key = {i.key: i for i in spec.instances}
    by_name: dict[str, list[InstanceSpec]] = {}
    for i in spec.instances:
        by_name.setdefault(i.name, []).append(i)
    declared = [f"{s}.{n}" for s in SECTIONS if isinstance(data.get(s), dict) for n in data[s]]
    for inst in spec.instances:
        where = inst.key
        ipath = (inst.type, inst.name, "inputs")
        for ref in raw_inputs[inst.key]:
            if ref in by_key:
                cands = [by_key[ref]]
            else:
                cands = [c for c in by_name.get(ref, []) if c is not inst]
            if not cands:
                if ref in declared or any(d.endswith("." + ref) for d in declared):
                    continue  # that instance has its own error already
                names = sorted({i.name for i in spec.instances if i is not inst})
                problems.add(where, "inputs", f"unknown input {ref!r}{_suggest(ref, names)}", ipath)
                continue
            if len(cands) > 1:
                problems.add(
                    where,
                    "inputs",
                    f"input {ref!r} is ambiguous: write {' or '.join(c.key for c in cands)}",
                    ipath,
                )
                continue
            up = cands[0]
            if up.type == "handler":
                problems.add(
                    where, "inputs", f"input {ref!r} is a handler; handlers emit nothing", ipath
                )
                continue
            if up.key not in inst.resolved_inputs:
                inst.resolved_inputs.append(up.key)


def _find_cycles(spec: PipelineSpec, problems: _Problems) -> None:
    by_key = {i.key: i for i in spec.instances}
    for cycle in _cycles(spec.instances):
        first = by_key[cycle[0]]
        problems.add(
            first.key,
            "inputs",
            "cycle: " + " → ".join([*cycle, cycle[0]]),
            (first.type, first.name, "inputs"),
        )


def _warnings(spec: PipelineSpec, registry: Registry) -> list[str]:
    """What is valid but likely a mistake: output nobody consumes, or unmatched messages
    (source_success false) that no consumer takes."""
    file = spec.file
    warnings = []
    consumers: dict[str, list[InstanceSpec]] = {}
    for inst in spec.instances:
        for up in inst.resolved_inputs:
            consumers.setdefault(up, []).append(inst)
    for inst in spec.instances:
        if inst.type == "handler":
            continue
        cons = consumers.get(inst.key, [])
        cls = registry.get(inst.type, inst.kind)
        if not cons and not (cls is not None and cls.may_have_no_consumer):
            warnings.append(f"{file}: {inst.key}: nobody consumes its output")
        if (
            cons
            and cls is not None
            and cls.sets_source_success
            and not any(c.options.source_success in ("false", "any") for c in cons)
        ):
            warnings.append(
                f"{file}: {inst.key}: messages it does not match (source_success false) have no consumer; "
                "add one with `source-success: false` to keep them"
            )
    return warnings


def _valid_listen(s: str) -> bool:
    _host, sep, port = s.rpartition(":")
    return bool(sep) and port.isdigit() and 0 <= int(port) < 65536


def _cycles(instances: list[InstanceSpec]) -> list[list[str]]:
    graph = {i.key: i.resolved_inputs for i in instances}
    color: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()

    def visit(k: str) -> None:
        color[k] = 1
        stack.append(k)
        for up in graph.get(k, []):
            if color.get(up, 0) == 0:
                visit(up)
            elif color.get(up) == 1:
                cyc = stack[stack.index(up) :]
                key = frozenset(cyc)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(list(reversed(cyc)))
        stack.pop()
        color[k] = 2

    for k in graph:
        if color.get(k, 0) == 0:
            visit(k)
    return found
