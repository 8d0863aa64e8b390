"""The exact path of the batch format: values JSON alone would lose, written as tagged objects.

A value that JSON cannot carry exactly becomes ``{"\\u0000": [type, text]}``: ``f`` a
non-finite float, ``i`` an integer past 64 bits, ``b`` bytes (base64), ``u`` a string with
lone surrogates (base64 of its surrogatepass UTF-8); a plain object that has the key
``"\\u0000"`` itself is ``{"\\u0000": ["o", object]}``.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from ..message import SharedFields

__all__ = ["CorruptPayload", "tag", "untag"]

_TAG = "\x00"


class CorruptPayload(ValueError):
    """Not a batch of ours, or damaged."""


def tag(v: Any) -> Any:
    t = type(v)
    if t is str:
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raw = v.encode("utf-8", "surrogatepass")
            return {_TAG: ["u", base64.b64encode(raw).decode()]}
        return v
    if t is bool or v is None:
        return v
    if t is int:
        return v if -(2**63) <= v < 2**64 else {_TAG: ["i", str(v)]}
    if t is float:
        return v if math.isfinite(v) else {_TAG: ["f", repr(v)]}
    if t is dict or t is SharedFields:
        out = {_key(k): tag(x) for k, x in v.items()}
        return {_TAG: ["o", out]} if _TAG in out else out
    if t is list or t is tuple or isinstance(v, set | frozenset):
        return [tag(x) for x in v]
    if isinstance(v, bytes | bytearray | memoryview):
        return {_TAG: ["b", base64.b64encode(bytes(v)).decode()]}
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return tag(int(v))
    if isinstance(v, float):
        return tag(float(v))
    if isinstance(v, str):
        return tag(str(v))
    return tag(str(v))


def _key(k: Any) -> str:
    return k if type(k) is str else str(k)


def untag(v: Any) -> Any:
    t = type(v)
    if t is dict:
        if _TAG in v:
            if len(v) != 1:
                raise CorruptPayload("a tagged value with other keys")
            kind, text = v[_TAG]
            if kind == "o":
                return {k: untag(x) for k, x in text.items()}
            if kind == "i":
                return int(text)
            if kind == "f":
                return float(text)
            if kind == "b":
                return base64.b64decode(text, validate=True)
            if kind == "u":
                return base64.b64decode(text, validate=True).decode("utf-8", "surrogatepass")
            raise CorruptPayload(f"unknown tag {kind!r}")
        return {k: untag(x) for k, x in v.items()}
    if t is list:
        return [untag(x) for x in v]
    return v
