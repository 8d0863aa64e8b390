"""Field paths: the one way options and conditions name a part of a message.

A path is dotted from the message root: ``message``, ``time`` (also ``@timestamp``),
``level``, ``host``, ``id``, ``kind``, ``source_success``, ``source_path``, ``tags``,
``labels`` / ``labels.app``, ``fields`` / ``fields.http.status``, ``container.name`` /
``container.labels.app``, ``metric.name`` / ``metric.fields.usage``.  A first name that is
not one of those means ``fields.<name>``: ``status`` is ``fields.status`` and ``a.b`` is
``fields.a.b`` (what grok's ``field`` always accepted).  Logstash's ``[a][b]`` is ``a.b``.

:func:`parse_path` compiles a path once into a getter (``MISSING`` when absent), a setter
and a deleter specialised for its shape, so that the per-message cost is one or two
dictionary look-ups.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from .message import Message, fields_of

__all__ = ["MISSING", "ROOTS", "FieldPath", "parse_path"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: what a getter returns for a part the message does not have
MISSING: Any = _Missing()

#: the first names that are message attributes (anything else is under ``fields``)
ROOTS = frozenset(
    (
        "message",
        "time",
        "@timestamp",
        "level",
        "host",
        "id",
        "kind",
        "source_success",
        "source_path",
        "tags",
        "labels",
        "fields",
        "container",
        "metric",
    )
)
_SCALARS = ("message", "time", "level", "host", "id", "kind", "source_success", "source_path")
_CONTAINER_ATTRS = frozenset(
    (
        "id",
        "name",
        "image",
        "image_id",
        "labels",
        "ips",
        "created",
        "command",
        "service_name",
        "service_slot",
        "task_slot",
    )
)
_BRACKETS = re.compile(r"\[([^\[\]]+)\]")


def _walk(d: Any, keys: tuple[str, ...]) -> Any:
    for k in keys:
        if type(d) is not dict:
            return MISSING
        d = d.get(k, MISSING)
        if d is MISSING:
            return MISSING
    return d


def _dict_getter(attr: str, keys: tuple[str, ...]) -> Callable[[Message], Any]:
    """A getter below a lazily created dict slot (``_fields``, ``_labels``)."""
    if not keys:

        def get_all(m: Message) -> Any:
            d = fields_of(m) if attr == "_fields" else getattr(m, attr)
            return d if d is not None else {}

        return get_all
    if len(keys) == 1:
        (k,) = keys
        if attr == "_fields":

            def get_field(m: Message) -> Any:
                f = m._fields
                if type(f) is bytes:
                    f = fields_of(m)
                return f.get(k, MISSING) if f else MISSING

            return get_field

        def get1(m: Message) -> Any:
            d = getattr(m, attr)
            return d.get(k, MISSING) if d else MISSING

        return get1
    first, rest = keys[0], keys[1:]

    def get_n(m: Message) -> Any:
        d = fields_of(m) if attr == "_fields" else getattr(m, attr)
        if not d:
            return MISSING
        v = d.get(first, MISSING)
        return MISSING if v is MISSING else _walk(v, rest)

    return get_n


def _text(v: Any) -> str:
    if type(v) is str:
        return v
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        return str(v)


class FieldPath:
    """A compiled path: ``get(m)`` (``MISSING`` when absent), ``set(m, v)``, ``delete(m)``."""

    __slots__ = ("delete", "get", "keys", "root", "set", "text")

    def __init__(self, text: str, root: str, keys: tuple[str, ...]) -> None:
        self.text = text
        self.root = root
        self.keys = keys
        self.get = self._getter()
        self.set: Callable[[Message, Any], None] = self._setter()
        self.delete: Callable[[Message], bool] = self._deleter()

    def __repr__(self) -> str:
        return f"FieldPath({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldPath) and (self.root, self.keys) == (other.root, other.keys)

    def __hash__(self) -> int:
        return hash((self.root, self.keys))

    @property
    def writable(self) -> bool:
        return self.root not in ("container", "metric", "source_path")

    @property
    def canonical(self) -> str:
        return ".".join((self.root, *self.keys))

    # -- compiled accessors ------------------------------------------------------------
    def _getter(self) -> Callable[[Message], Any]:
        root, keys = self.root, self.keys
        if root == "fields":
            return _dict_getter("_fields", keys)
        if root == "labels":
            return _dict_getter("_labels", keys)
        if root == "tags":
            return lambda m: m._tags if m._tags is not None else []
        if root == "container":
            if not keys:
                return lambda m: m.container.to_dict() if m.container is not None else MISSING
            attr, rest = keys[0], keys[1:]

            def get_container(m: Message) -> Any:
                c = m.container
                if c is None:
                    return MISSING
                v = getattr(c, attr)
                return _walk(v, rest) if rest else v

            return get_container
        if root == "metric":
            if not keys:
                return lambda m: m.metric.to_dict() if m.metric is not None else MISSING
            attr, rest = keys[0], keys[1:]

            def get_metric(m: Message) -> Any:
                mt = m.metric
                if mt is None:
                    return MISSING
                v = getattr(mt, attr)
                return _walk(v, rest) if rest else v

            return get_metric
        name = root
        return lambda m: getattr(m, name)

    def _setter(self) -> Callable[[Message, Any], None]:
        root, keys = self.root, self.keys
        if root == "fields":
            if not keys:

                def set_fields(m: Message, v: Any) -> None:
                    if type(v) is not dict:
                        raise TypeError("fields must be a map")
                    m.fields = v

                return set_fields
            *parents, last = keys

            def set_field(m: Message, v: Any) -> None:
                d = m.fields
                for k in parents:
                    nxt = d.get(k)
                    if type(nxt) is not dict:
                        nxt = d[k] = {}
                    d = nxt
                d[last] = v

            return set_field
        if root == "labels":
            if not keys:

                def set_labels(m: Message, v: Any) -> None:
                    if type(v) is not dict:
                        raise TypeError("labels must be a map")
                    m.labels = {str(k): _text(x) for k, x in v.items()}

                return set_labels
            key = ".".join(keys)  # labels are flat: a dotted label name is one key

            def set_label(m: Message, v: Any) -> None:
                m.labels[key] = _text(v)

            return set_label
        if root == "tags":

            def set_tags(m: Message, v: Any) -> None:
                m.tags = [_text(x) for x in v] if type(v) is list else [_text(v)]

            return set_tags
        if root == "message":

            def set_message(m: Message, v: Any) -> None:
                m.message = _text(v)

            return set_message
        if root == "time":

            def set_time(m: Message, v: Any) -> None:
                m.time = float(v)

            return set_time
        if root == "level":

            def set_level(m: Message, v: Any) -> None:
                m.level = min(7, max(0, int(v)))

            return set_level
        if root == "source_success":

            def set_success(m: Message, v: Any) -> None:
                m.source_success = bool(v)

            return set_success
        if root in ("host", "id", "kind"):
            name = root

            def set_str(m: Message, v: Any) -> None:
                setattr(m, name, _text(v))

            return set_str
        text = self.text

        def read_only(m: Message, v: Any) -> None:
            raise TypeError(f"{text} is read-only")

        return read_only

    def _deleter(self) -> Callable[[Message], bool]:
        root, keys = self.root, self.keys
        if root == "fields" and keys:
            *parents, last = keys

            def del_field(m: Message) -> bool:
                if not m._fields:
                    return False
                d: Any = m.fields
                for k in parents:
                    d = d.get(k)
                    if type(d) is not dict:
                        return False
                return d.pop(last, MISSING) is not MISSING

            return del_field
        if root == "labels" and keys:
            key = ".".join(keys)

            def del_label(m: Message) -> bool:
                return bool(m._labels) and m.labels.pop(key, MISSING) is not MISSING

            return del_label
        attr = {"fields": "_fields", "labels": "_labels", "tags": "_tags"}.get(root)
        if attr is not None:

            def del_all(m: Message) -> bool:
                had = bool(getattr(m, attr))
                setattr(m, attr, None)
                return had

            return del_all
        if root == "message":

            def del_message(m: Message) -> bool:
                had = bool(m.message)
                m.message = ""
                return had

            return del_message
        text = self.text

        def cannot(m: Message) -> bool:
            raise TypeError(f"{text} cannot be removed")

        return cannot


def split_path(text: str) -> tuple[str, tuple[str, ...]]:
    """``(root, keys)`` of a path (``ValueError`` when it is not one)."""
    s = text.strip()
    if not s:
        raise ValueError("empty field path")
    if s.startswith("["):
        parts = _BRACKETS.findall(s)
        if not parts or "".join(f"[{p}]" for p in parts) != s:
            raise ValueError(f"bad field path {text!r} (expected [a][b] or a.b)")
    else:
        parts = s.split(".")
        if not all(parts):
            raise ValueError(f"bad field path {text!r} (an empty name between dots)")
    root, keys = parts[0], tuple(parts[1:])
    if root == "@timestamp":
        root = "time"
    if root not in ROOTS:
        return "fields", (root, *keys)
    if root in _SCALARS and keys:
        raise ValueError(f"bad field path {text!r}: {root} has no parts")
    if root == "tags" and keys:
        raise ValueError(f'bad field path {text!r}: tags is a list (use `"x" in tags`)')
    if root == "container" and keys and keys[0] not in _CONTAINER_ATTRS:
        raise ValueError(
            f"bad field path {text!r}: a container has " + ", ".join(sorted(_CONTAINER_ATTRS))
        )
    if root == "container" and keys and keys[0] not in ("labels", "ips") and len(keys) > 1:
        raise ValueError(f"bad field path {text!r}: container.{keys[0]} has no parts")
    if root == "metric" and keys and keys[0] not in ("name", "type", "fields"):
        raise ValueError(f"bad field path {text!r}: a metric has name, type and fields")
    return root, keys


_cache: dict[str, FieldPath] = {}


def parse_path(text: str, *, writable: bool = False) -> FieldPath:
    """The compiled path (``ValueError`` naming the problem when it is not one)."""
    p = _cache.get(text)
    if p is None:
        root, keys = split_path(text)
        p = FieldPath(text, root, keys)
        if len(_cache) < 4096:
            _cache[text] = p
    if writable and not p.writable:
        raise ValueError(f"{text} cannot be changed (container, metric and source_path are not)")
    return p
