"""What the transform filters (json, kv, dissect, date, mutate) share: a source field, a
target, and the failure rule (tag, ``source_success`` false, forwarded: an else-branch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import field_validator

from ...message import Message
from ...options import Field, PluginOptions
from ...paths import MISSING, FieldPath, parse_path

__all__ = ["MISSING", "SourceOptions", "check_path", "fail", "target_dict"]


def check_path(v: str, writable: bool = False) -> str:
    """An option that is a field path: checked at validate time."""
    if v:
        parse_path(v, writable=writable)
    return v


class SourceOptions(PluginOptions):
    """``field`` (what is read) and ``target`` (where results go; default ``fields``)."""

    field: str = Field("message", description="the field path to read (README: Field paths)")
    target: str = Field(
        "", description="a field path to put the results under (default: merged into fields)"
    )

    @field_validator("field")
    @classmethod
    def _field_ok(cls, v: str) -> str:
        return check_path(v)

    @field_validator("target")
    @classmethod
    def _target_ok(cls, v: str) -> str:
        if v:
            p = parse_path(v, writable=True)
            if p.root != "fields":
                raise ValueError(f"target must be under fields (got {v!r})")
        return v


def fail(m: Message, tag: str) -> None:
    """The failure rule: ``source_success`` false and the tag (once)."""
    m.source_success = False
    t = m._tags
    if t is None:
        m._tags = [tag]
    elif tag not in t:
        t.append(tag)


def target_dict(target: str) -> Callable[[Message], dict[str, Any]]:
    """The dict results go into: ``fields`` itself, or the map at ``target`` (created)."""
    if not target:
        return lambda m: m.fields
    p: FieldPath = parse_path(target, writable=True)
    keys = p.keys

    def dest(m: Message) -> dict[str, Any]:
        d = m.fields
        for k in keys:
            nxt = d.get(k)
            if type(nxt) is not dict:
                nxt = d[k] = {}
            d = nxt
        return d

    return dest


def text_of(get: Callable[[Message], Any]) -> Callable[[Message], str | None]:
    """A getter of a field's text: strings as they are, numbers as text, else None."""

    def text(m: Message) -> str | None:
        v = get(m)
        t = type(v)
        if t is str:
            return v  # type: ignore[no-any-return]
        if t is int or t is float:
            return str(v)
        return None

    return text
