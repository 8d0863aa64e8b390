"""A guarded YAML loader for config files (PyYAML's SafeLoader, its composer subclassed).

A config file is untrusted text. Plain ``yaml.safe_load`` accepts documents that hang or
crash a program that walks the result (a "billion laughs" of nested aliases, an alias to a
node that contains it), and silently keeps the last of two equal keys. :func:`load_yaml`
composes the node graph itself and refuses, as :class:`~qframe.errors.ConfigError`
naming the file, the line and column and the key path:

- more than :data:`MAX_BYTES` of text, or text that is not UTF-8 / has control characters;
- nesting deeper than :data:`MAX_DEPTH`;
- aliases that expand to more than :data:`MAX_NODES` nodes (counted while composing, with
  each alias weighing the whole subtree it stands for, so the check is linear in the text);
- an alias to a node that is still being composed (a recursive structure);
- a key given twice in one mapping (YAML merge keys ``<<:`` are allowed, and keys they bring
  in may be overridden: that is their purpose);
- more than one document, or a top level that is not a mapping.

Nothing but ConfigError leaves :func:`load_yaml` or :func:`read_text`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import AliasEvent

from .errors import ConfigError, ConfigProblem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Positions",
    "load_value",
    "load_yaml",
    "read_text",
]

MAX_BYTES = 256 * 1024  # a config is a few KiB; PyYAML (pure Python) reads ~100 KiB/s
MAX_DEPTH = 64  # nested collections
MAX_NODES = 100_000  # nodes after alias expansion

Path = tuple[str, ...]
Positions = dict[Path, tuple[int, int]]
# maps a key path to (where, key) as ConfigProblem names them, e.g. ("handler.es", "url")
Splitter = Callable[[Path], tuple[str, str]]

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _default_split(path: Path) -> tuple[str, str]:
    return "", ".".join(path)


class _Refused(Exception):
    """A hard limit was hit while composing: stop at once."""

    def __init__(self, message: str, mark: yaml.Mark | None, path: Path) -> None:
        super().__init__(message)
        self.message, self.mark, self.path = message, mark, path


class _GuardedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts, bounds and checks what it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.path: list[str] = []
        self.open_anchors: set[str] = set()
        self.sizes: dict[int, int] = {}  # id(node) -> nodes it expands to
        self.duplicates: list[tuple[Path, str, yaml.Mark]] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            if event.anchor in self.open_anchors:
                raise _Refused(
                    f"recursive alias *{event.anchor}: it refers to a node that contains it",
                    event.start_mark,
                    (*self.path, *_step(parent, index)),
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        event = self.peek_event()
        if self.depth >= MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep", event.start_mark, tuple(self.path[:3])
            )
        anchor = event.anchor
        step = _step(parent, index)
        self.path.extend(step)
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.depth += 1
        try:
            node: yaml.Node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)
        self._weigh(node)
        if isinstance(node, yaml.MappingNode):
            self._check_keys(node)
        if step:
            self.path.pop()
        return node

    def _weigh(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self.sizes[id(k)] + self.sizes[id(v)] for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self.sizes[id(v)] for v in node.value)
        else:
            size = 1
        if size > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES} values once aliases are expanded (nested aliases?)",
                node.start_mark,
                tuple(self.path),
            )
        self.sizes[id(node)] = size

    def _check_keys(self, node: yaml.MappingNode) -> None:
        seen: dict[tuple[str, str], yaml.Mark] = {}
        for key, _value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            ident = (key.tag, key.value)
            first = seen.get(ident)
            if first is None:
                seen[ident] = key.start_mark
                continue
            self.duplicates.append(
                (
                    (*self.path, str(key.value)),
                    f"duplicate key (first at line {first.line + 1}, column {first.column + 1}); "
                    "give each key once",
                    key.start_mark,
                )
            )


def _step(parent: yaml.Node | None, index: Any) -> tuple[str, ...]:
    """The key path component of a node composed under ``parent`` at ``index``."""
    if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.ScalarNode):
        return (str(index.value),)  # a value: its key
    if isinstance(parent, yaml.SequenceNode) and isinstance(index, int):
        return (str(index),)
    return ()


def read_text(file: str) -> str:
    """The file's text: at most :data:`MAX_BYTES`, UTF-8 (a BOM is allowed)."""
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _error(file, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise _error(file, f"larger than {MAX_BYTES // 1024} KiB: not a config file?")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _error(file, f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line, column) from exc


CONFIG_HINT = " (collector:, filter:, handler:, …)"


def load_yaml(
    text: str, file: str, split: Splitter = _default_split, hint: str = CONFIG_HINT
) -> tuple[dict[str, Any], Positions]:
    """Parse one YAML document into a mapping and the (line, column) of every key path.

    An empty document is an empty mapping. ``split`` names a key path in problems;
    ``hint`` follows "the top level must be a mapping" (what a config's holds).
    """
    return _load(text, file, split, mapping=hint)  # type: ignore[return-value]


def _load(text: str, file: str, split: Splitter, mapping: str | None) -> tuple[Any, Positions]:
    """``mapping``: None for any value, else the hint of the error for a top level that is not
    a mapping."""
    if len(text) > MAX_BYTES:
        raise _error(file, f"larger than {MAX_BYTES // 1024} KiB: not a config file?")
    try:
        loader = _GuardedLoader(text)  # the reader checks every character here
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        raise _error(
            file, f"not a text file (control character #x{exc.character:04x})", line, column
        ) from None
    try:
        try:
            node = loader.get_single_node()
        except _Refused as exc:
            named = split(exc.path) if exc.path else None
            raise _problem(file, exc.message, exc.mark, named) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            what = str(exc.problem or exc.context)
            if "expected a single document" in str(exc.context):
                what = "more than one document ('---'): a config file holds one"
            raise _problem(file, f"YAML syntax error: {what}", mark) from None
        except Exception as exc:  # the library's own failure, translated at the boundary
            raise _error(file, f"cannot parse YAML: {exc!r}") from None
        if loader.duplicates:
            raise ConfigError(
                [
                    ConfigProblem(file, *split(path), msg, mark.line + 1, mark.column + 1)
                    for path, msg, mark in loader.duplicates
                ]
            )
        if node is None:
            return ({} if mapping is not None else None), {}
        if mapping is not None and not isinstance(node, yaml.MappingNode):
            raise _problem(
                file,
                f"the top level must be a mapping{mapping}",
                node.start_mark,
            )
        pos: Positions = {}
        _positions(node, (), pos, set())  # before construction: merge keys change the nodes
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise _problem(file, f"YAML error: {exc.problem or exc.context}", mark) from None
        except Exception as exc:  # the library's own failure, translated at the boundary
            raise _error(file, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return data, pos


def load_value(text: str) -> Any:
    """A value given on the command line (``--set k=VALUE``) as YAML, with the same guards.

    Text that is not a valid (or is a refused) YAML document stays a plain string.
    """
    try:
        return _load(text, "--set", _default_split, mapping=None)[0]
    except ConfigError:
        return text


def _positions(node: yaml.Node, path: Path, out: Positions, seen: set[int]) -> None:
    if not isinstance(node, yaml.MappingNode) or id(node) in seen:
        return
    seen.add(id(node))  # an aliased mapping is walked once, at its first place
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode):
            p = (*path, str(k.value))
            out.setdefault(p, (k.start_mark.line + 1, k.start_mark.column + 1))
            _positions(v, p, out, seen)


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _error(
    file: str, message: str, line: int | None = None, column: int | None = None
) -> ConfigError:
    return ConfigError([ConfigProblem(file, "", "", message, line, column)])


def _problem(
    file: str, message: str, mark: yaml.Mark | None, named: tuple[str, str] | None = None
) -> ConfigError:
    where, key = named or ("", "")
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    return ConfigError([ConfigProblem(file, where, key, message, line, column)])
