"""Typed option schemas for plugins.

Every plugin declares ``Options``, a subclass of :class:`PluginOptions` (a pydantic
model).  Attribute names are snake_case; config keys are kebab-case (``bind-port``).
Each field has a type, a default and a one-line ``description``: the same schema
validates the config and generates the docs (``qframe plugins --describe KIND``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "SECRET",
    "Bytes",
    "Duration",
    "Field",
    "PluginOptions",
    "SourceSuccess",
    "StrList",
    "is_secret",
]

#: ``Field(..., json_schema_extra=SECRET)``: a value never shown (config errors, docs)
SECRET: dict[str, Any] = {"secret": True}


def to_kebab(name: str) -> str:
    return name.replace("_", "-")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    None: 1.0,
}


def parse_duration(v: Any) -> Any:
    """``5s``, ``500ms``, ``2m``, ``1h``, ``1.5`` (seconds) or a number → seconds (float)."""
    if isinstance(v, bool):
        raise ValueError("expected a duration like 5s, 500ms or 2m")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        m = _DURATION.match(v)
        if m:
            return float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    raise ValueError(f"expected a duration like 5s, 500ms or 2m, got {v!r}")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "mi": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "gi": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
    "ti": 2**40,
}


def parse_size(v: Any) -> Any:
    """``1MiB``, ``512KiB``, ``8MB``, ``1024`` → bytes (int)."""
    if isinstance(v, bool):
        raise ValueError("expected a size like 1MiB or 512KiB")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        m = _SIZE.match(v)
        if m and (m.group(2) or "").lower() in _SIZE_UNITS:
            return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()])
    raise ValueError(f"expected a size like 1MiB or 512KiB, got {v!r}")


def parse_str_list(v: Any) -> Any:
    """A list of strings, or one comma-separated string."""
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return v


def parse_workers(v: Any) -> Any:
    """A count of processes, or ``auto``: the cores qframe may use."""
    if isinstance(v, str) and v.strip().lower() == "auto":
        import os

        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            return os.cpu_count() or 1
    if isinstance(v, bool):
        raise ValueError("expected a number of processes or auto")
    return v


def parse_source_success(v: Any) -> Any:
    if isinstance(v, str) and v.strip().lower() in ("true", "false", "any"):
        return v.strip().lower()
    if isinstance(v, bool):
        return "true" if v else "false"
    raise ValueError(f"expected true, false or any, got {v!r}")


Duration = Annotated[float, BeforeValidator(parse_duration)]
Bytes = Annotated[int, BeforeValidator(parse_size)]
StrList = Annotated[list[str], BeforeValidator(parse_str_list)]
Workers = Annotated[int, BeforeValidator(parse_workers)]
SourceSuccess = Annotated[Literal["true", "false", "any"], BeforeValidator(parse_source_success)]


class PluginOptions(BaseModel):
    """Options every plugin instance has; plugins subclass this with their own."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_kebab,
        populate_by_name=True,
        frozen=False,
        validate_default=True,
    )

    kind: str = Field("", description="plugin kind (defaults to the instance name)")
    inputs: StrList = Field(
        default_factory=list,
        description="names of the instances this one subscribes to (list or comma string)",
    )
    source_success: SourceSuccess = Field(
        "true", description="take messages whose source_success is true, false or any"
    )
    ticker_ms: int | None = Field(
        None, ge=1, description="own tick interval in milliseconds (default: the global tick)"
    )
    queue_size: int = Field(
        10_000, ge=1, description="capacity of this instance's input queue, in messages"
    )
    workers: Workers = Field(
        1,
        ge=1,
        le=256,
        description="worker processes (a number, or auto: the cores qframe may use): a "
        "filter's batches run in them, several at once, and come out in order; the tcp, "
        "gelf and file collectors share their connections or files among them",
    )
    when: str = Field(
        "",
        description="a condition (README: Conditions): a filter passes the messages it does "
        "not hold for by unchanged, a handler does not take them (acknowledged, counted)",
    )

    @field_validator("when")
    @classmethod
    def _when_compiles(cls, v: str) -> str:
        if v.strip():
            from .condition import compile_condition  # condition imports message: lazily

            compile_condition(v)  # ConditionError (a ValueError): line, column and why
        return v


COMMON_OPTIONS = frozenset(PluginOptions.model_fields)


def is_secret(options: type[BaseModel], key: str) -> bool:
    """True when the option ``key`` (kebab or snake case) is declared with ``SECRET``."""
    f = options.model_fields.get(key.replace("-", "_"))
    extra = f.json_schema_extra if f is not None else None
    return isinstance(extra, dict) and bool(extra.get("secret"))


def describe(options: type[PluginOptions]) -> list[dict[str, Any]]:
    """One row per option: key, type, default, doc (for docs and ``plugins --describe``)."""
    rows = []
    for name, f in options.model_fields.items():
        default = "(required)" if f.is_required() else f.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):  # a nested mapping (like a handler's buffer)
            default = default.model_dump(mode="json", by_alias=True)
        rows.append(
            {
                "key": to_kebab(name),
                "type": _type_name(f.annotation, f.metadata),
                "default": default,
                "doc": f.description or "",
                "common": name in COMMON_OPTIONS,
            }
        )
    return rows


def _type_name(t: Any, meta: list[Any]) -> str:
    if t is None:
        return "any"
    if isinstance(t, type) and issubclass(t, BaseModel):
        return "mapping"
    if meta:
        for m in meta:
            fn = getattr(m, "func", None)
            if fn is parse_duration:
                return "duration"
            if fn is parse_size:
                return "size"
            if fn is parse_str_list:
                return "list[str]"
            if fn is parse_workers:
                return "int|auto"
            if fn is parse_source_success:
                return "true|false|any"
    args = getattr(t, "__args__", None)
    if getattr(t, "__origin__", None) is Literal and args:
        return "|".join(str(a) for a in args)
    s = str(t) if args else getattr(t, "__name__", None) or str(t)
    return s.replace("typing.", "")
