"""kv: key=value pairs (and logfmt) from a text field into ``fields`` or a ``target``."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from ...message import Message
from ...options import Field
from ...paths import parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec
from .transform import SourceOptions, fail, target_dict, text_of

FAILURE_TAG = "_kvparsefailure"
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
        self.dest = target_dict(o.target)
        self.include = frozenset(o.include_keys) or None
        self.exclude = frozenset(o.exclude_keys)
        self.prefix = o.prefix
        self.fs, self.vs = o.field_split, o.value_split
        self.fast = len(self.fs) == 1 and len(self.vs) == 1

    def pairs(self, s: str) -> dict[str, Any]:
        """The pairs of one text."""
        if self.fast and '"' not in s and "'" not in s:
            got = self._split_pairs(s)
            if got is not None:
                return got
        return self._regex_pairs(s)

    def _split_pairs(self, s: str) -> dict[str, Any] | None:
        """Unquoted text with one-character splits: ``str.split`` and ``partition`` give
        what the regex gives (None: an unusual part, the regex decides)."""
        out: dict[str, Any] = {}
        vs, logfmt, prefix = self.vs, self.logfmt, self.prefix
        inc, exc = self.include, self.exclude
        for part in s.split(self.fs):
            if not part:
                continue
            k, eq, v = part.partition(vs)
            if not k:
                return None
            if not eq:
                if not logfmt:
                    continue
                v = True  # type: ignore[assignment]
            if (inc is not None and k not in inc) or k in exc:
                continue
            out[prefix + k if prefix else k] = v
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
        ok = bad = 0
        text, dest, pairs = self.text, self.dest, self.pairs
        for m in batch:
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
