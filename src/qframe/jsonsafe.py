"""JSON that one hostile message cannot turn into a lost batch.

``orjson.loads`` accepts nesting 1024 deep, ``orjson.dumps`` refuses past 254; integers
beyond 64 bits (from a conversion) and strings with lone surrogates are refused too.
So decoding is bounded well below what encoding accepts (:data:`MAX_DEPTH`), and every
encoder that writes a batch encodes it whole first and, when that fails, message by
message (:func:`encode_each`), so that only the message that cannot be encoded is set
aside (tagged :data:`ENCODE_FAILURE_TAG`, counted, dead-lettered where the handler has a
dead letter).  :func:`dumps_lossy` writes anything (a dead-letter record): what orjson
refuses is replaced by its text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

__all__ = [
    "ENCODE_FAILURE_TAG",
    "MAX_DEPTH",
    "depth_exceeds",
    "dumps_lossy",
    "encode_each",
    "loads_bounded",
]

#: the deepest nesting decoded from input (orjson encodes up to 254; a message adds a
#: few levels of its own around the fields)
MAX_DEPTH = 64
#: the tag of a message an encoder could not encode
ENCODE_FAILURE_TAG = "_encodefailure"

_loads = orjson.loads
T = TypeVar("T")


class TooDeep(ValueError):
    """The JSON nests deeper than allowed."""


def depth_exceeds(obj: Any, limit: int) -> bool:
    """Whether ``obj`` nests dicts/lists more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        o, d = pop()
        t = type(o)
        if t is dict:
            vals: Any = o.values()
        elif t is list:
            vals = o
        else:
            continue
        if d > limit:
            return True
        for v in vals:
            tv = type(v)
            if tv is dict or tv is list:
                push((v, d + 1))
    return False


def loads_bounded(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``orjson.loads`` that also refuses nesting deeper than ``max_depth``
    (:class:`TooDeep`; like ``orjson.JSONDecodeError`` a :class:`ValueError`).

    A document with no more brackets than ``max_depth`` cannot nest deeper: it is not
    walked (the usual log line has one or two).
    """
    obj = _loads(data)
    if type(obj) is dict or type(obj) is list:
        if isinstance(data, str):
            n = data.count("{") + data.count("[")
        else:
            n = data.count(b"{") + data.count(b"[")
        if n > max_depth and depth_exceeds(obj, max_depth):
            raise TooDeep(f"nested deeper than {max_depth}")
    return obj


def _sanitize(obj: Any, depth: int) -> Any:
    t = type(obj)
    if t is dict:
        if depth <= 0:
            return "<too deep>"
        return {
            (k if type(k) is str else str(k)).encode("utf-8", "replace").decode(): _sanitize(
                v, depth - 1
            )
            for k, v in obj.items()
        }
    if t is list or t is tuple:
        if depth <= 0:
            return "<too deep>"
        return [_sanitize(v, depth - 1) for v in obj]
    if t is int:
        return obj if -(2**63) <= obj < 2**64 else str(obj)
    if t is str:
        return obj.encode("utf-8", "replace").decode()
    if obj is None or t is float or t is bool:
        return obj
    if isinstance(obj, orjson.Fragment):
        return obj
    return str(obj)


def dumps_lossy(obj: Any, default: Callable[[Any], Any] | None = str) -> bytes:
    """``orjson.dumps(obj)``, or, when orjson refuses it, of a copy whose refused parts
    (nesting past 200, integers past 64 bits, lone surrogates) are replaced by text."""
    try:
        return orjson.dumps(obj, default=default)
    except TypeError:
        return orjson.dumps(_sanitize(obj, 200), default=str)


def encode_each(
    items: list[T], encode: Callable[[T], bytes]
) -> tuple[list[bytes], list[tuple[T, Exception]]]:
    """Each item's encoding, and the items that could not be encoded with their errors
    (the fallback of an encoder whose batch encoding failed)."""
    good: list[bytes] = []
    bad: list[tuple[T, Exception]] = []
    for it in items:
        try:
            good.append(encode(it))
        except Exception as exc:  # one message's problem: set it aside, keep the rest
            bad.append((it, exc))
    return good, bad
