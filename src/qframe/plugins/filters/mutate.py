"""mutate: rename, copy, remove, convert, case, strip, gsub, split/join, merge, add."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter
from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from ...message import Message, fields_of
from ...options import Field, PluginOptions
from ...paths import MISSING, FieldPath, parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec

FAILURE_TAG = "_mutatefailure"
_get_tags = attrgetter("_tags")
_REF = re.compile(r"%\{([^}]+)\}")
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what JSON encoders take


def _to_int(v: Any) -> Any:
    t = type(v)
    if t is int:
        return v
    if t is str:
        try:
            r = int(v)
        except ValueError:
            pass
        else:
            if not _INT_MIN <= r <= _INT_MAX:
                raise ValueError("beyond 64 bits")
            return r
    if t is bool:
        return int(v)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        r = int(v)
    else:
        s = str(v).strip()
        try:
            r = int(s)
        except ValueError:
            f = float(s)
            if f != f or f in (float("inf"), float("-inf")):
                raise ValueError("not a finite number") from None
            r = int(f)
    if not _INT_MIN <= r <= _INT_MAX:
        raise ValueError("beyond 64 bits")
    return r


def _to_float(v: Any) -> Any:
    f = float(v)
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return f


_TRUE = frozenset(("true", "t", "yes", "y", "1", "on"))
_FALSE = frozenset(("false", "f", "no", "n", "0", "off", ""))


def _to_bool(v: Any) -> Any:
    if type(v) is bool:
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"not a boolean: {v!r}")


def _to_string(v: Any) -> Any:
    if type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    if v is None:
        return ""
    return str(v)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "string": _to_string,
}


def _each(v: Any, f: Callable[[Any], Any]) -> Any:
    """``f`` on a value, or on each item of a list."""
    return [f(x) for x in v] if type(v) is list else f(v)


def _str_op(f: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda v: f(v) if type(v) is str else v


def _one_field(p: FieldPath) -> bool:
    return p.root == "fields" and len(p.keys) == 1


def _over_batch(step: Callable[[Message], bool]) -> Callable[[list[Message], set[int]], None]:
    """A per-message step over a batch: the indices of the messages it failed on go
    into ``bad``."""

    def run(batch: list[Message], bad: set[int]) -> None:
        for i, m in enumerate(batch):
            if not step(m):
                bad.add(i)

    return run


class Template:
    """``"%{fields.user} on %{host}"``: references resolved per message (absent: kept)."""

    def __init__(self, text: str) -> None:
        self.text = text
        parts = _REF.split(text)
        self.lits = parts[0::2]
        self.paths = [parse_path(p) for p in parts[1::2]]

    def render(self, m: Message) -> str:
        if not self.paths:
            return self.text
        out = [self.lits[0]]
        for p, lit in zip(self.paths, self.lits[1:], strict=True):
            v = p.get(m)
            out.append("%{" + p.text + "}" if v is MISSING else _to_string(v))
            out.append(lit)
        return "".join(out)


class MutateFilter(Filter):
    """Changes fields, tags and labels, in this fixed order (each step over all its paths):

    1. ``rename`` ``{from: to}`` — moves a value (absent: nothing);
    2. ``copy`` ``{from: to}``;
    3. ``convert`` ``{path: int|float|bool|string}`` (lists item by item; a value that does
       not convert — or an int beyond 64 bits — stays and the message is tagged
       ``_mutatefailure``);
    4. ``gsub`` ``[[path, regex, replacement], …]`` (``\\1`` back-references);
    5. ``lowercase``, 6. ``uppercase``, 7. ``strip`` ``[paths]``;
    8. ``split`` ``{path: separator}`` (text → list), 9. ``join`` ``{path: separator}``;
    10. ``merge`` ``{dest: source}`` (lists concatenate, maps update, a scalar dest becomes
        a list);
    11. ``add-fields`` ``{path: "text with %{path} references"}``;
    12. ``add-tags`` ``[tags with %{path}]``;
    13. ``remove`` ``[paths]`` (fields, labels, message, …), 14. ``remove-tags`` ``[tags]``.

    Paths are README's field paths (``fields.n``, ``labels.app``, ``message``; a bare name
    is under ``fields``). Container and metric parts are read-only.

    Metrics: ``qframe_failed_total`` (messages tagged ``_mutatefailure``).

    Example (``rename: {fields.msg: message}, convert: {fields.n: int}, add-tags: [app]``)::

        fields: {"msg": "ok", "n": "42"} → message: "ok", fields: {"n": 42}, tags: ["app"]
    """

    class Options(PluginOptions):
        rename: dict[str, str] = Field(default_factory=dict, description="{from: to}")
        copy_: dict[str, str] = Field(default_factory=dict, alias="copy", description="{from: to}")
        convert: dict[str, Literal["int", "float", "bool", "string"]] = Field(
            default_factory=dict, description="{path: int|float|bool|string}"
        )
        gsub: list[list[str]] = Field(
            default_factory=list, description="[[path, regex, replacement], …]"
        )
        lowercase: list[str] = Field(default_factory=list, description="paths to lower-case")
        uppercase: list[str] = Field(default_factory=list, description="paths to upper-case")
        strip: list[str] = Field(default_factory=list, description="paths to strip of spaces")
        split: dict[str, str] = Field(default_factory=dict, description="{path: separator}")
        join: dict[str, str] = Field(default_factory=dict, description="{path: separator}")
        merge: dict[str, str] = Field(default_factory=dict, description="{dest: source}")
        add_fields: dict[str, Any] = Field(
            default_factory=dict, description="{path: value}; text values take %{path}"
        )
        add_tags: list[str] = Field(default_factory=list, description="tags to add (%{path})")
        remove: list[str] = Field(default_factory=list, description="paths to remove")
        remove_tags: list[str] = Field(default_factory=list, description="tags to remove")

        @field_validator("gsub")
        @classmethod
        def _gsub_ok(cls, v: list[list[str]]) -> list[list[str]]:
            for g in v:
                if len(g) != 3:
                    raise ValueError(f"gsub takes [path, regex, replacement] triples (got {g!r})")
                parse_path(g[0], writable=True)
                try:
                    re.compile(g[1])
                except re.error as exc:
                    raise ValueError(f"gsub regex {g[1]!r}: {exc}") from None
            return v

        @model_validator(mode="after")
        def _paths_ok(self) -> MutateFilter.Options:
            for d in (self.rename, self.copy_, self.merge):
                for a, b in d.items():
                    parse_path(a)
                    parse_path(b, writable=True)
            for p in (*self.rename, *self.remove):
                parse_path(p, writable=True)
            for lst in (self.lowercase, self.uppercase, self.strip):
                for p in lst:
                    parse_path(p, writable=True)
            for d2 in (self.convert, self.split, self.join, self.add_fields):
                for p in d2:
                    parse_path(p, writable=True)
            for t in (*self.add_tags, *(v for v in self.add_fields.values() if type(v) is str)):
                Template(t)
            return self

    exported_metrics = (
        MetricSpec("failed", "counter", "messages a step could not change (tagged _mutatefailure)"),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.steps = self._compile(self.options)
        self.batch_steps = [getattr(s, "batch", None) or _over_batch(s) for s in self.steps]

    @staticmethod
    def _compile(o: MutateFilter.Options) -> list[Callable[[Message], bool]]:
        """One closure per operation, in the documented order; each returns False on a
        failure (the message is then tagged)."""
        P = parse_path
        steps: list[Callable[[Message], bool]] = []

        def move(a: FieldPath, b: FieldPath, keep: bool) -> Callable[[Message], bool]:
            if not keep and _one_field(a) and _one_field(b):
                ka, kb = a.keys[0], b.keys[0]

                def rename_field(m: Message) -> bool:
                    f = fields_of(m)
                    if f and ka in f:
                        f = m.fields  # its own copy when shared
                        f[kb] = f.pop(ka)
                    return True

                def rename_fields(batch: list[Message], bad: set[int]) -> None:
                    for m in batch:
                        f = m._fields
                        if type(f) is dict:
                            if ka in f:
                                f[kb] = f.pop(ka)
                        elif f:  # shared, or not decoded yet
                            rename_field(m)

                rename_field.batch = rename_fields  # type: ignore[attr-defined]
                return rename_field

            def step(m: Message) -> bool:
                v = a.get(m)
                if v is MISSING:
                    return True
                if keep:
                    v = v.copy() if type(v) in (dict, list) else v
                else:
                    a.delete(m)
                b.set(m, v)
                return True

            return step

        def apply(p: FieldPath, f: Callable[[Any], Any]) -> Callable[[Message], bool]:
            if _one_field(p):
                k = p.keys[0]

                def apply_field(m: Message) -> bool:
                    fs = fields_of(m)
                    if not fs:
                        return True
                    v = fs.get(k, MISSING)
                    if v is MISSING:
                        return True
                    try:
                        m.fields[k] = [f(x) for x in v] if type(v) is list else f(v)
                    except (ValueError, TypeError, OverflowError):
                        return False
                    return True

                def apply_fields(batch: list[Message], bad: set[int]) -> None:
                    for i, m in enumerate(batch):
                        fs = m._fields
                        if type(fs) is dict:
                            v = fs.get(k, MISSING)
                            if v is MISSING:
                                continue
                            try:
                                fs[k] = [f(x) for x in v] if type(v) is list else f(v)
                            except (ValueError, TypeError, OverflowError):
                                bad.add(i)
                        elif fs and not apply_field(m):  # shared, or not decoded yet
                            bad.add(i)

                apply_field.batch = apply_fields  # type: ignore[attr-defined]
                return apply_field

            def step(m: Message) -> bool:
                v = p.get(m)
                if v is MISSING:
                    return True
                try:
                    p.set(m, _each(v, f))
                except (ValueError, TypeError, OverflowError):
                    return False
                return True

            return step

        for a, b in o.rename.items():
            steps.append(move(P(a), P(b, writable=True), keep=False))
        for a, b in o.copy_.items():
            steps.append(move(P(a), P(b, writable=True), keep=True))
        for p, t in o.convert.items():
            steps.append(apply(P(p), CONVERTERS[t]))
        for path, rx, rep in o.gsub:
            sub = re.compile(rx).sub
            steps.append(apply(P(path), _str_op(lambda s, sub=sub, rep=rep: sub(rep, s))))
        for p in o.lowercase:
            steps.append(apply(P(p), _str_op(str.lower)))
        for p in o.uppercase:
            steps.append(apply(P(p), _str_op(str.upper)))
        for p in o.strip:
            steps.append(apply(P(p), _str_op(str.strip)))
        for p, sep in o.split.items():
            pp = P(p)

            def split(m: Message, pp: FieldPath = pp, sep: str = sep) -> bool:
                v = pp.get(m)
                if type(v) is str:
                    pp.set(m, v.split(sep) if sep else list(v))
                return True

            steps.append(split)
        for p, sep in o.join.items():
            pp = P(p)

            def join(m: Message, pp: FieldPath = pp, sep: str = sep) -> bool:
                v = pp.get(m)
                if type(v) is list:
                    pp.set(m, sep.join(map(_to_string, v)))
                return True

            steps.append(join)
        for dest, src in o.merge.items():
            pd, ps = P(dest, writable=True), P(src)

            def merge(m: Message, pd: FieldPath = pd, ps: FieldPath = ps) -> bool:
                s = ps.get(m)
                if s is MISSING:
                    return True
                d = pd.get(m)
                if d is MISSING:
                    pd.set(m, s.copy() if type(s) in (dict, list) else s)
                elif type(d) is dict:
                    if type(s) is not dict:
                        return False
                    d.update(s)
                elif type(d) is list:
                    d.extend(s if type(s) is list else [s])
                else:
                    pd.set(m, [d, *(s if type(s) is list else [s])])
                return True

            steps.append(merge)
        for p, value in o.add_fields.items():
            pp = P(p, writable=True)
            if type(value) is str:
                tpl = Template(value)

                def add_text(m: Message, pp: FieldPath = pp, tpl: Template = tpl) -> bool:
                    pp.set(m, tpl.render(m))
                    return True

                steps.append(add_text)
            else:

                def add_value(m: Message, pp: FieldPath = pp, value: Any = value) -> bool:
                    pp.set(m, value.copy() if type(value) in (dict, list) else value)
                    return True

                steps.append(add_value)
        if o.add_tags:
            tpls = [Template(t) for t in o.add_tags]
            plain = [t.text for t in tpls if not t.paths]
            refs = [t for t in tpls if t.paths]

            def add_tags(m: Message) -> bool:
                t = m._tags
                if t is None:
                    t = m._tags = []
                for x in plain:
                    if x not in t:
                        t.append(x)
                for tp in refs:
                    x = tp.render(m)
                    if x not in t:
                        t.append(x)
                return True

            if not refs:
                fresh = list(dict.fromkeys(plain))  # what add_tags makes of no tags

                def add_plain_tags(batch: list[Message], bad: set[int]) -> None:
                    if any(map(_get_tags, batch)):
                        for m in batch:
                            add_tags(m)
                    else:  # the usual batch: no tags yet, each gets its own list (C loops)
                        fresh_lists = map(list, repeat(fresh, len(batch)))
                        deque(map(setattr, batch, repeat("_tags"), fresh_lists), maxlen=0)

                add_tags.batch = add_plain_tags  # type: ignore[attr-defined]
            steps.append(add_tags)
        for p in o.remove:
            pp = P(p, writable=True)

            def remove(m: Message, pp: FieldPath = pp) -> bool:
                pp.delete(m)
                return True

            steps.append(remove)
        if o.remove_tags:
            gone = frozenset(o.remove_tags)

            def remove_tags(m: Message) -> bool:
                t = m._tags
                if t:
                    m._tags = [x for x in t if x not in gone]
                return True

            steps.append(remove_tags)
        return steps

    sets_source_success: ClassVar[bool] = False

    async def process(self, batch: list[Message]) -> list[Message]:
        """Each step over the whole batch in turn (a message's steps run in the same
        order as :meth:`process_each`'s, which is the reference; steps change only their
        own message): the usual steps — a field renamed, a field converted or changed,
        plain tags added — have batch versions without a call per message."""
        bad: set[int] = set()
        for run in self.batch_steps:
            run(batch, bad)
        if bad:
            for i in bad:
                batch[i].add_tag(FAILURE_TAG)
            self.metrics.inc("failed", len(bad))
        return batch

    def process_each(self, batch: list[Message]) -> list[Message]:
        """Message by message, every step a call (the reference of :meth:`process`)."""
        steps = self.steps
        bad = 0
        for m in batch:
            ok = True
            for step in steps:
                if not step(m):
                    ok = False
            if ok is False:
                m.add_tag(FAILURE_TAG)
                bad += 1
        if bad:
            self.metrics.inc("failed", bad)
        return batch
