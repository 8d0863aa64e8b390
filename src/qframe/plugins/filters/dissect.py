"""dissect: splits a text by the delimiters of a mapping (Logstash's dissect syntax)."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from typing import Any, ClassVar, Literal

from pydantic import field_validator

from ...message import Message
from ...options import Field
from ...paths import parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec
from .transform import SourceOptions, fail, target_dict, text_of

FAILURE_TAG = "_dissectfailure"
_get_message = attrgetter("message")
_get_fields = attrgetter("_fields")
_FIELD = re.compile(r"%\{([^}]*)\}")
_KEY = re.compile(r"^(?P<mod>[?+*&]?)(?P<name>[^/>]*?)(?:/(?P<order>\d+))?(?P<pad>->)?$")


class DissectError(ValueError):
    pass


@dataclass
class Key:
    """One ``%{…}``: its name, modifier (``?`` skip, ``+`` append, ``*`` indirect key,
    ``&`` indirect value), append order, ``->`` padding and the delimiter after it."""

    name: str
    mod: str
    order: int
    pad: bool
    delim: str


class Dissector:
    """A compiled mapping: ``dissect(text)`` → dict of values, or None (no match)."""

    def __init__(self, mapping: str, append_separator: str = " ") -> None:
        parts = _FIELD.split(mapping)
        # parts: literal, key, literal, key, ..., literal
        self.prefix = parts[0]
        self.keys: list[Key] = []
        if len(parts) < 3:
            raise DissectError(f"mapping {mapping!r} has no %{{field}}")
        for i in range(1, len(parts), 2):
            spec, delim = parts[i], parts[i + 1]
            m = _KEY.match(spec)
            if m is None:
                raise DissectError(f"bad field %{{{spec}}}")
            mod, name = m.group("mod"), m.group("name")
            if mod in ("+", "*", "&") and not name:
                raise DissectError(f"%{{{spec}}} needs a name")
            if m.group("order") is not None and mod != "+":
                raise DissectError(f"%{{{spec}}}: /N orders appended fields (%{{+name/N}})")
            if i + 2 < len(parts) and not delim:
                raise DissectError(
                    f"%{{{spec}}} is followed by another field without a delimiter between them"
                )
            self.keys.append(
                Key(
                    name,
                    mod or ("?" if not name else ""),
                    int(m.group("order") or 0),
                    bool(m.group("pad")),
                    delim,
                )
            )
        names = {k.name for k in self.keys if k.mod == "*"}
        values = {k.name for k in self.keys if k.mod == "&"}
        if names != values:
            raise DissectError("every %{*name} needs its %{&name} (and the other way round)")
        self.sep = append_separator
        self.simple = all(k.mod == "" and not k.pad for k in self.keys)
        self.steps = [(k.name, k.delim) for k in self.keys]
        self.appends = any(k.mod == "+" for k in self.keys)
        self.field_names = list(dict.fromkeys(k.name for k in self.keys if k.mod in ("", "+")))

        self.dissect: Any = self._compiled()

    def _compiled(self) -> Any:
        """The mapping as one generated function: a ``str.partition`` per field (the text
        before the delimiter's first occurrence, and the rest: what ``str.find`` and two
        slices give, in one call), repeats of a padded field's delimiter stripped, and the
        dict built at once.  What goes where — skipped parts, appended parts joined in
        their order, indirect fields — is decided here, by running :meth:`_assemble` (the
        loop's own rule) on the parts' names; the function only moves values.  Only
        generated names appear in the source; delimiters and field names are constants
        of its namespace."""
        ns: dict[str, Any] = {"P": self.prefix, "SEP": self.sep}
        lines = ["def dissect(s):"]
        if self.prefix:
            lines += [
                "    if not s.startswith(P):",
                "        return None",
                f"    s = s[{len(self.prefix)}:]",
            ]
        for n, k in enumerate(self.keys):
            ns[f"D{n}"] = k.delim
            if not k.delim:
                lines.append(f"    v{n} = s")
                continue
            lines += [
                f"    v{n}, found, s = s.partition(D{n})",
                "    if not found:",
                "        return None",
            ]
            if k.pad:
                if len(k.delim) == 1:
                    lines.append(f"    s = s.lstrip(D{n})")
                else:
                    lines += [
                        f"    while s.startswith(D{n}):",
                        f"        s = s[{len(k.delim)}:]",
                    ]
        out, indirect = self._assemble([(k, f"v{n}") for n, k in enumerate(self.keys)])
        items = []
        for i, (name, parts) in enumerate(out.items()):
            ns[f"K{i}"] = name
            items.append(f"K{i}: " + (parts[0] if len(parts) == 1 else " + SEP + ".join(parts)))
        body = "{" + ", ".join(items) + "}"
        if not indirect:
            lines.append(f"    return {body}")
        else:
            lines.append(f"    out = {body}")
            for key, value in indirect:
                lines += [f"    if {key}:", f"        out[{key}] = {value}"]
            lines.append("    return out")
        exec("\n".join(lines), ns)  # the source is built from fixed text and indices only
        return ns["dissect"]

    def _assemble(
        self, vals: list[tuple[Key, Any]]
    ) -> tuple[dict[str, list[Any]], list[tuple[Any, Any]]]:
        """Where the parts go (the rule of Logstash's dissect): ``vals`` is each key with
        its part.  Returns the fields in their order, each with the parts it joins (with
        the append separator), and the indirect fields as (name part, value part): a field
        named by the first, unless it is empty."""
        out: dict[str, list[Any]] = {}
        appended: dict[str, list[tuple[int, int, Any]]] = {}
        ind_key: dict[str, Any] = {}
        ind_val: dict[str, Any] = {}
        for n, (k, v) in enumerate(vals):
            if k.mod == "":
                if k.name in appended:
                    appended[k.name].append((k.order, n, v))
                else:
                    out[k.name] = [v]
            elif k.mod == "+":
                lst = appended.setdefault(k.name, [])
                if k.name in out:
                    lst.append((0, -1, out.pop(k.name)[0]))
                lst.append((k.order, n, v))
            elif k.mod == "*":
                ind_key[k.name] = v
            elif k.mod == "&":
                ind_val[k.name] = v
        for name, lst in appended.items():
            lst.sort(key=lambda x: x[:2])
            out[name] = [v for _, _, v in lst]
        return out, [(key, ind_val[name]) for name, key in ind_key.items()]

    def _simple(self, s: str) -> dict[str, Any] | None:
        p = self.prefix
        if p:
            if not s.startswith(p):
                return None
            pos = len(p)
        else:
            pos = 0
        out: dict[str, Any] = {}
        find = s.find
        for name, delim in self.steps:
            if delim:
                i = find(delim, pos)
                if i < 0:
                    return None
                out[name] = s[pos:i]
                pos = i + len(delim)
            else:
                out[name] = s[pos:]
                pos = len(s)
        return out

    def _general(self, s: str) -> dict[str, Any] | None:
        p = self.prefix
        if p and not s.startswith(p):
            return None
        pos = len(p)
        vals: list[tuple[Key, str]] = []
        find = s.find
        for k in self.keys:
            d = k.delim
            if d:
                i = find(d, pos)
                if i < 0:
                    return None
                v = s[pos:i]
                pos = i + len(d)
                if k.pad:
                    while s.startswith(d, pos):
                        pos += len(d)
            else:
                v = s[pos:]
                pos = len(s)
            vals.append((k, v))
        out: dict[str, Any] = {}
        appended: dict[str, list[tuple[int, int, str]]] = {}
        ind_key: dict[str, str] = {}
        ind_val: dict[str, str] = {}
        for n, (k, v) in enumerate(vals):
            if k.mod == "":
                if k.name in appended:
                    appended[k.name].append((k.order, n, v))
                else:
                    out[k.name] = v
            elif k.mod == "+":
                lst = appended.setdefault(k.name, [])
                if k.name in out:
                    lst.append((0, -1, out.pop(k.name)))
                lst.append((k.order, n, v))
            elif k.mod == "*":
                ind_key[k.name] = v
            elif k.mod == "&":
                ind_val[k.name] = v
        for name, lst in appended.items():
            lst.sort()
            out[name] = self.sep.join(v for _, _, v in lst)
        for name, key in ind_key.items():
            if key:
                out[key] = ind_val.get(name, "")
        return out


_CONVERT = {"int": int, "float": float}


class DissectFilter(Filter):
    """Splits a text (``field``, default ``message``) by the delimiters of ``mapping``.

    Logstash's dissect syntax: ``%{name}`` takes the text up to the next delimiter (the
    last field takes the rest of the line), ``%{}`` or ``%{?name}`` skips it, ``%{+name}``
    appends to ``name`` (with ``append-separator``, default a space; ``%{+name/2}`` orders
    the parts), ``%{*key} %{&key}`` make a field named by one part with the other as value,
    ``%{name->}`` skips repeats of the delimiter that follows (padding). Text before the
    first field must match. ``convert-datatype: {bytes: int, ratio: float}`` converts
    (a value that does not convert is left as text and tagged ``_dissect_convert_failure``).

    No match: tag ``_dissectfailure``, ``source_success`` false, forwarded unchanged.
    No regular expressions: a line costs one ``str.partition`` per delimiter.

    Metrics: ``qframe_matched_total``, ``qframe_unmatched_total``.

    Example (``mapping: '%{clientip} %{ident} %{auth} [%{ts}] "%{verb} %{request} HTTP/%{httpversion}" %{status} %{bytes}'``)::

        message: '10.0.0.1 - - [26/Nov/2026:05:00:01 +0000] "GET / HTTP/1.1" 200 512'
        → fields: {"clientip": "10.0.0.1", "ident": "-", "auth": "-",
                   "ts": "26/Nov/2026:05:00:01 +0000", "verb": "GET", "request": "/",
                   "httpversion": "1.1", "status": "200", "bytes": "512"}
    """

    sets_source_success: ClassVar[bool] = True

    class Options(SourceOptions):
        mapping: str = Field(..., description="the dissect pattern")
        append_separator: str = Field(" ", description="between the parts of %{+name}")
        convert_datatype: dict[str, Literal["int", "float"]] = Field(
            default_factory=dict, description="{field: int|float}"
        )

        @field_validator("mapping")
        @classmethod
        def _compiles(cls, v: str) -> str:
            Dissector(v)
            return v

    exported_metrics = (
        MetricSpec("matched", "counter", "messages the mapping matched"),
        MetricSpec("unmatched", "counter", "messages it did not (tagged _dissectfailure)"),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        o = self.options
        self.d = Dissector(o.mapping, o.append_separator)
        self.is_message = parse_path(o.field) == parse_path("message")
        self.text = text_of(parse_path(o.field).get)
        self.dest = target_dict(o.target) if o.target else None
        self.convert = [(k, _CONVERT[t]) for k, t in o.convert_datatype.items()]

    async def process(self, batch: list[Message]) -> list[Message]:
        if self.is_message and self.dest is None and not self.convert:
            texts = list(map(_get_message, batch))
            if not any(map(_get_fields, batch)):
                done = list(map(self.d.dissect, texts))
                if None not in done:  # the usual batch: every line matched, in C loops
                    deque(map(setattr, batch, repeat("_fields"), done), maxlen=0)
                    deque(map(setattr, batch, repeat("source_success"), repeat(True)), maxlen=0)
                    self.metrics.inc("matched", len(batch))
                    return batch
                return self._each(batch, done)
        return self._each(batch)

    def _each(self, batch: list[Message], done: list[Any] | None = None) -> list[Message]:
        """Message by message (``done``: each message's text dissected already)."""
        dissect = self.d.dissect
        ok = bad = 0
        conv = self.convert
        for i, m in enumerate(batch):
            if done is not None:
                got = done[i]
            else:
                s = m.message if self.is_message else self.text(m)
                got = dissect(s) if s is not None else None
            if got is None:
                fail(m, FAILURE_TAG)
                bad += 1
                continue
            if conv:
                for k, f in conv:
                    v = got.get(k)
                    if v is not None:
                        try:
                            got[k] = f(v)
                        except ValueError:
                            m.add_tag("_dissect_convert_failure")
            if self.dest is not None:
                self.dest(m).update(got)
            elif not m._fields:
                m._fields = got
            else:
                m.fields.update(got)
            m.source_success = True
            ok += 1
        if ok:
            self.metrics.inc("matched", ok)
        if bad:
            self.metrics.inc("unmatched", bad)
        return batch
