"""json: decodes a JSON text (default ``message``) into ``fields`` or a ``target``."""

from __future__ import annotations

from collections import deque
from itertools import repeat
from operator import attrgetter, is_
from typing import Any, ClassVar, Literal

import orjson

from ...jsonsafe import MAX_DEPTH, loads_bounded
from ...message import Message, parse_time
from ...options import Bytes, Field
from ...paths import MISSING, parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec
from .transform import SourceOptions, fail, target_dict, text_of

FAILURE_TAG = "_jsonparsefailure"

#: severity names → syslog severity (0 emerg … 7 debug)
LEVEL_NAMES = {
    "emerg": 0, "emergency": 0, "panic": 0,
    "alert": 1,
    "crit": 2, "critical": 2, "fatal": 2,
    "err": 3, "error": 3, "eror": 3,
    "warn": 4, "warning": 4,
    "notice": 5,
    "info": 6, "information": 6, "informational": 6,
    "debug": 7, "trace": 7, "dbug": 7,
}  # fmt: skip
#: pino / bunyan numeric levels → syslog severity
PINO_LEVELS = {10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2}

_get_message = attrgetter("message")
_get_fields = attrgetter("_fields")


def to_severity(v: Any) -> int | None:
    """A syslog severity from a level name or number (syslog 0–7, pino/bunyan 10–60)."""
    t = type(v)
    if t is str:
        s = LEVEL_NAMES.get(v.lower())
        if s is not None:
            return s
        if v.isdigit():
            v, t = int(v), int
        else:
            return None
    if t is int:
        if 0 <= v <= 7:
            return v  # type: ignore[no-any-return]
        return PINO_LEVELS.get(v)
    return None


def to_epoch(v: Any) -> float | None:
    """Epoch seconds from RFC 3339 text or a number of s / ms / µs / ns since the epoch."""
    t = type(v)
    if t is str:
        try:
            return parse_time(v)
        except ValueError:
            try:
                v = float(v)
            except ValueError:
                return None
            t = float
    if t is int or t is float:
        x = float(v)
        if x != x or x in (float("inf"), float("-inf")):
            return None
        a = abs(x)
        if a >= 1e17:
            return x / 1e9
        if a >= 1e14:
            return x / 1e6
        if a >= 1e11:
            return x / 1e3
        return x
    return None


class JsonFilter(Filter):
    """Decodes a JSON text (``field``, default ``message``) into ``fields`` (or ``target``).

    - an object is merged into ``fields`` (its keys at the top), or put under ``target``;
      an array or scalar needs a ``target``;
    - failure (not JSON, nested deeper than ``max-depth``, longer than ``max-bytes``, an
      array without ``target``, the field absent or not text): tag ``_jsonparsefailure``,
      ``source_success`` false, forwarded unchanged (``on-error: drop`` drops it, counted)
      — a downstream instance with ``source-success: false`` takes it (an else-branch);
    - ``promote: true`` (objects merged into fields): ``message``/``msg`` becomes the message,
      ``level``/``severity`` its level (names, syslog 0–7, pino/bunyan 10–60: 10/20 debug,
      30 info, 40 warning, 50 error, 60 critical) and ``time``/``ts``/``@timestamp`` its time
      (RFC 3339, or epoch s/ms/µs/ns); promoted keys leave ``fields`` (a value that does not
      convert stays).

    Decoding is bounded: nesting deeper than ``max-depth`` (at most 128, below what encoding
    takes) or text longer than ``max-bytes`` is a failure, never a lost batch.

    Metrics: ``qframe_parsed_total``, ``qframe_failed_total{reason}``.

    Example (``promote: true``)::

        {"message": "{\\"level\\":\\"error\\",\\"msg\\":\\"db down\\",\\"ts\\":1795669200.5,\\"db\\":\\"orders\\"}"}
        → {"@timestamp": "2026-11-26T05:00:00.500000Z", "message": "db down", "level": 3,
           "fields": {"db": "orders"}}
    """

    sets_source_success: ClassVar[bool] = True

    class Options(SourceOptions):
        promote: bool = Field(
            False, description="message/msg, level/severity, time/ts/@timestamp → the message's own"
        )
        on_error: Literal["tag", "drop"] = Field(
            "tag", description="tag: _jsonparsefailure, source_success false, forwarded; drop"
        )
        max_depth: int = Field(
            MAX_DEPTH, ge=1, le=128, description="deepest nesting decoded (deeper: a failure)"
        )
        max_bytes: Bytes = Field(
            1 << 20, ge=1, description="longest text decoded (longer: a failure)"
        )

    exported_metrics = (
        MetricSpec("parsed", "counter", "messages decoded"),
        MetricSpec(
            "failed",
            "counter",
            "messages not decoded (tagged _jsonparsefailure), by reason: invalid, too_deep, "
            "too_large, not_object, no_field",
        ),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        o = self.options
        self.is_message = parse_path(o.field) == parse_path("message")
        self.text = text_of(parse_path(o.field).get)
        self.dest = target_dict(o.target) if o.target else None
        self.depth = o.max_depth
        self.max_len = o.max_bytes

    async def process(self, batch: list[Message]) -> list[Message]:
        if self.is_message and self.dest is None and not self.options.promote:
            if self._all_at_once(batch):
                return batch
        return self._each(batch)

    def _all_at_once(self, batch: list[Message]) -> bool:
        """The usual batch, in C loops: every message's text an object within the bounds,
        and no fields yet.  False (nothing changed) when any of that does not hold: the
        batch then goes message by message (:meth:`_each`)."""
        texts = list(map(_get_message, batch))
        if not texts:
            return False
        longest = max(map(len, texts))
        if longest > self.max_len or any(map(_get_fields, batch)):
            return False
        try:
            objs = list(map(orjson.loads, texts))
        except ValueError:
            return False
        if not all(map(is_, map(type, objs), repeat(dict))):
            return False
        # nesting deeper than max-depth takes more than 2 × max-depth characters, and more
        # brackets than max-depth: texts that have neither cannot (else: one by one)
        depth = self.depth
        if longest > 2 * depth + 1:
            count = str.count
            if max(map(count, texts, repeat("{"))) + max(map(count, texts, repeat("["))) > depth:
                return False
        deque(map(setattr, batch, repeat("_fields"), objs), maxlen=0)
        deque(map(setattr, batch, repeat("source_success"), repeat(True)), maxlen=0)
        self.metrics.inc("parsed", len(batch))
        return True

    def _each(self, batch: list[Message]) -> list[Message]:
        loads = loads_bounded
        depth = self.depth
        max_len = self.max_len
        promote = self.options.promote and self.dest is None
        failed: dict[str, int] = {}
        bad: list[Message] = []
        ok = 0
        for m in batch:
            s = m.message if self.is_message else self.text(m)
            reason = ""
            if s is None:
                reason = "no_field"
            elif len(s) > max_len and len(s.encode("utf-8", "replace")) > max_len:
                reason = "too_large"
            else:
                try:
                    obj = loads(s, depth)
                except ValueError as exc:
                    reason = "too_deep" if "deeper" in str(exc) else "invalid"
                else:
                    if self.dest is not None:
                        d = self.dest(m)
                        if type(obj) is dict:
                            d.update(obj)
                        else:
                            self._put_target(m, obj)
                    elif type(obj) is dict:
                        if promote:
                            self._promote(m, obj)
                        f = m._fields
                        if not f:
                            m._fields = obj
                        else:
                            m.fields.update(obj)
                    else:
                        reason = "not_object"
            if reason:
                failed[reason] = failed.get(reason, 0) + 1
                if self.options.on_error == "drop":
                    bad.append(m)
                else:
                    fail(m, FAILURE_TAG)
            else:
                m.source_success = True
                ok += 1
        if ok:
            self.metrics.inc("parsed", ok)
        for r, n in failed.items():
            self.metrics.inc("failed", n, reason=r)
        if bad:
            self.drop(bad, "json_failure")
            ids = set(map(id, bad))
            return [m for m in batch if id(m) not in ids]
        return batch

    def _put_target(self, m: Message, obj: Any) -> None:
        parse_path(self.options.target).set(m, obj)

    @staticmethod
    def _promote(m: Message, obj: dict[str, Any]) -> None:
        for k in ("message", "msg"):
            v = obj.get(k, MISSING)
            if type(v) is str:
                m.message = v
                del obj[k]
                break
        for k in ("level", "severity"):
            v = obj.get(k, MISSING)
            if v is not MISSING:
                lv = to_severity(v)
                if lv is not None:
                    m.level = lv
                    del obj[k]
                    break
        for k in ("time", "ts", "@timestamp", "timestamp"):
            v = obj.get(k, MISSING)
            if v is not MISSING:
                t = to_epoch(v)
                if t is not None:
                    m.time = t
                    del obj[k]
                    break
