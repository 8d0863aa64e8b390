"""kv: key=value pairs (and logfmt) from a text field into ``fields`` or a ``target``."""

from __future__ import annotations

import re
from collections import deque
from itertools import repeat
from operator import attrgetter
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from ...message import Message
from ...options import Field
from ...paths import parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec
from .transform import SourceOptions, fail, target_dict, text_of

FAILURE_TAG = "_kvparsefailure"
_get_message = attrgetter("message")
_get_fields = attrgetter("_fields")
_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_UNESC = re.compile(r"\\(.)", re.DOTALL)


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    return _UNESC.sub(lambda mt: _ESC.get(mt.group(1), "\\" + mt.group(1)), s)


def build_regex(field_split: str, value_split: str, logfmt: bool) -> re.Pattern[str]:
    """One pair per match: a key, a value split, then a quoted or a bare value.

    ``field-split`` and ``value-split`` are sets of characters (as in Logstash): any one
    of them separates.  In logfmt a key without ``=`` is a flag (true).  The groups
    (for ``findall``): key, the value split, a double-quoted value with its quotes, a
    single-quoted one with its quotes, a bare value.
    """
    fs = re.escape(field_split)
    vs = re.escape(value_split)
    key = rf"([^{fs}{vs}\"']+)"
    value = rf"""(?:("(?:[^"\\]|\\.)*")|('(?:[^'\\]|\\.)*')|([^{fs}]*))"""
    if logfmt:
        return re.compile(rf"{key}(?:([{vs}]){value})?", re.DOTALL)
    return re.compile(rf"{key}([{vs}]){value}", re.DOTALL)


class KvFilter(Filter):
    """Parses ``key=value`` pairs (``mode: kv``) or logfmt lines (``mode: logfmt``).

    ``field-split`` and ``value-split`` are sets of characters (any one separates:
    ``field-split: "&;"``). Values may be quoted with ``"`` or ``'`` (backslash escapes
    ``\\" \\\\ \\n \\t`` inside); quotes are removed. In logfmt a bare key is a flag
    (``true``). ``include-keys`` keeps only those keys, ``exclude-keys`` leaves those out;
    ``prefix`` is put before every key; ``target`` puts the pairs under a map (else they
    go into ``fields``). A later pair of the same key wins.

    No pair found: tag ``_kvparsefailure`` and ``source_success`` false (forwarded).

    Metrics: ``qframe_parsed_total``, ``qframe_failed_total``.

    Example (``mode: logfmt``)::

        message: 'level=info msg="user logged in" user=ann dur=1.5ms cached'
        → fields: {"level": "info", "msg": "user logged in", "user": "ann", "dur": "1.5ms",
                   "cached": true}
    """

    sets_source_success: ClassVar[bool] = True

    class Options(SourceOptions):
        mode: Literal["kv", "logfmt"] = Field("kv", description="kv, or logfmt (bare keys: true)")
        field_split: str = Field(" ", min_length=1, description="characters between pairs")
        value_split: str = Field("=", min_length=1, description="characters between key and value")
        include_keys: list[str] = Field(default_factory=list, description="only these keys")
        exclude_keys: list[str] = Field(default_factory=list, description="not these keys")
        prefix: str = Field("", description="put before every key")

        @model_validator(mode="after")
        def _splits(self) -> KvFilter.Options:
            if set(self.field_split) & set(self.value_split):
                raise ValueError("field-split and value-split share a character")
            return self

    exported_metrics = (
        MetricSpec("parsed", "counter", "messages with at least one pair"),
        MetricSpec("failed", "counter", "messages without a pair (tagged _kvparsefailure)"),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        o = self.options
        self.rx = build_regex(o.field_split, o.value_split, o.mode == "logfmt")
        self.logfmt = o.mode == "logfmt"
        self.text = text_of(parse_path(o.field).get)
        self.is_message = parse_path(o.field) == parse_path("message")
        self.dest = target_dict(o.target)
        self.include = frozenset(o.include_keys) or None
        self.exclude = frozenset(o.exclude_keys)
        self.prefix = o.prefix
        self.fs, self.vs = o.field_split, o.value_split
        self.fast = len(self.fs) == 1 and len(self.vs) == 1
        self.plain = self.include is None and not self.exclude and not self.prefix
        self.quoted = not {'"', "'", "\\"} & {self.fs, self.vs}

    def pairs(self, s: str) -> dict[str, Any]:
        """The pairs of one text."""
        if self.fast and "'" not in s:
            if '"' not in s:
                got = self._split_pairs(s)
            elif self.quoted and "\\" not in s:
                got = self._quoted_pairs(s)
            else:
                got = None
            if got is not None:
                return got
        return self._regex_pairs(s)

    def _split_pairs(self, s: str) -> dict[str, Any] | None:
        """Unquoted text with one-character splits: ``str.split`` and ``partition`` give
        what the regex gives (None: an unusual part, the regex decides)."""
        out: dict[str, Any] = {}
        return out if self._split_into(out, s) else None

    def _split_into(self, out: dict[str, Any], s: str) -> bool:
        """The pairs of unquoted text put into ``out``; False at an unusual part."""
        vs, logfmt, prefix = self.vs, self.logfmt, self.prefix
        if self.plain:  # no key selection, no prefix: the short loop
            for part in s.split(self.fs):
                k, eq, v = part.partition(vs)
                if eq:
                    if not k:
                        return False
                    out[k] = v
                elif k and logfmt:
                    out[k] = True
            return True
        inc, exc = self.include, self.exclude
        for part in s.split(self.fs):
            if not part:
                continue
            k, eq, v = part.partition(vs)
            if not k:
                return False
            if not eq:
                if not logfmt:
                    continue
                v = True  # type: ignore[assignment]
            if (inc is not None and k not in inc) or k in exc:
                continue
            out[prefix + k if prefix else k] = v
        return True

    def _quoted_pairs(self, s: str) -> dict[str, Any] | None:
        """Text with double-quoted values (no single quotes, no backslashes) and
        one-character splits: cut at the quotes, the text between them is split as
        unquoted text and each quoted part is the value of the key just before it
        (``key="…"``).  What the regex gives; None when a quote is anywhere else (in a
        key, inside a bare value, not followed by a field split), the regex decides."""
        segs = s.split('"')
        last = len(segs) - 1
        if last & 1:
            return None  # a quote without its closing one
        fs, vs = self.fs, self.vs
        prefix, inc, exc = self.prefix, self.include, self.exclude
        out: dict[str, Any] = {}
        for i in range(0, last + 1, 2):
            outside = segs[i]
            if i and outside and outside[0] != fs:
                return None  # text right after a closing quote
            if i == last:
                return out if self._split_into(out, outside) else None
            head, _, kv = outside.rpartition(fs)
            key = kv[:-1]
            if not key or kv[-1] != vs or vs in key:
                return None  # the quote is not a value's (``key=`` before it)
            if not self._split_into(out, head):
                return None
            if (inc is None or key in inc) and key not in exc:
                out[prefix + key if prefix else key] = segs[i + 1]
        return out

    def _regex_pairs(self, s: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        inc, exc, prefix = self.include, self.exclude, self.prefix
        for k, eq, dq, sq, v in self.rx.findall(s):
            if (inc is not None and k not in inc) or k in exc:
                continue
            if dq:
                val: Any = _unescape(dq[1:-1])
            elif sq:
                val = _unescape(sq[1:-1])
            elif eq:
                val = v
            else:
                val = True  # a logfmt flag
            out[prefix + k if prefix else k] = val
        return out

    async def process(self, batch: list[Message]) -> list[Message]:
        if self.is_message and not self.options.target:
            got = list(map(self.pairs, map(_get_message, batch)))
            if all(got) and not any(map(_get_fields, batch)):
                # the usual batch: every line had pairs, none has fields yet (C loops)
                deque(map(setattr, batch, repeat("_fields"), got), maxlen=0)
                deque(map(setattr, batch, repeat("source_success"), repeat(True)), maxlen=0)
                self.metrics.inc("parsed", len(batch))
                return batch
            return self._each(batch, got)
        return self._each(batch)

    def _each(self, batch: list[Message], done: list[Any] | None = None) -> list[Message]:
        """Message by message (``done``: each message's pairs found already)."""
        ok = bad = 0
        text, dest, pairs = self.text, self.dest, self.pairs
        for i, m in enumerate(batch):
            if done is not None:
                got = done[i]
            else:
                s = text(m)
                got = pairs(s) if s else None
            if got:
                dest(m).update(got)
                m.source_success = True
                ok += 1
            else:
                fail(m, FAILURE_TAG)
                bad += 1
        if ok:
            self.metrics.inc("parsed", ok)
        if bad:
            self.metrics.inc("failed", bad)
        return batch
