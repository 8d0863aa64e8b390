"""grok: parse text with grok patterns into typed fields (Logstash-compatible)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import orjson
from pydantic import field_validator, model_validator

from ...grok import Grok, GrokError, GrokTimeout, PatternLibrary, field_path
from ...message import Message
from ...options import Field, PluginOptions
from ...paths import MISSING, parse_path, split_path
from ...plugin import Filter
from ...telemetry import MetricSpec

FAILURE_TAG = "_grokparsefailure"
TIMEOUT_TAG = "_groktimeout"
_WARN_EVERY = 10.0  # seconds between two warnings about timed-out lines


def _one_or_list(v: Any) -> Any:
    if isinstance(v, str):
        return [v]
    return v


class GrokFilter(Filter):
    """Matches a field (``message`` by default) against grok patterns and merges the
    captures into ``fields``.

    Patterns are tried in order (``pattern`` may be a list); the first match wins
    (``break-on-match: false`` tries them all and merges every match).  Search semantics
    as in Logstash: the pattern may match anywhere in the text, ``.`` matches newlines,
    empty captures are left out, the first non-empty capture wins when a field name
    repeats, ``%{NUMBER:bytes:int}`` / ``:float`` convert, ``[a][b]`` or ``a.b`` field
    names nest.  The built-in library (``qframe grok --list``) follows the legacy
    Logstash core patterns (COMBINEDAPACHELOG, SYSLOGLINE, TIMESTAMP_ISO8601, …) plus
    the seed's LOG, EVENT and OPENTSDB; ``pattern-dir`` files in the Logstash format and
    inline ``patterns`` add to it and override it.

    - match: ``source_success`` true, captures merged into ``fields`` (or under
      ``target``); with ``overwrite-message-key`` that capture replaces ``message``.
      A capture into a field that already holds a value becomes a list ``[old, new]``
      unless the field is listed in ``overwrite`` (Logstash's rule).
    - ``ecs-compatibility: v1|v8``: the ECS library, the same names capturing into
      nested Elastic Common Schema fields (docs/grok.md, ECS).
    - no match: ``source_success`` false, tag ``_grokparsefailure``, message forwarded
      unchanged — a downstream instance with ``source-success: false`` takes it (e.g. a
      second grok with another pattern: an else-chain).
    - a line whose search exceeds ``timeout-ms`` (only possible on the bounded ``regex``
      engine, see the ``qframe.grok`` docs for the engine rule): tag ``_groktimeout``,
      ``source_success`` false, forwarded.  (``tag-on-failure``, ``tag-on-timeout``
      choose the tags.)

    Metrics: ``qframe_matched_total``, ``qframe_unmatched_total``, ``qframe_timeouts_total``.

    Example (``pattern: "%{COMBINEDAPACHELOG}"``)::

        {"@timestamp": "2026-11-26T05:00:01.000000Z", "kind": "log",
         "message": "93.184.216.34 - - [26/Nov/2026:05:00:01 +0000] \\"GET / HTTP/1.1\\" 200 512 \\"-\\" \\"curl/8.5.0\\"",
         "source_path": ["stdin", "apache"], "source_success": true,
         "fields": {"clientip": "93.184.216.34", "ident": "-", "auth": "-",
                    "timestamp": "26/Nov/2026:05:00:01 +0000", "verb": "GET", "request": "/",
                    "httpversion": "1.1", "response": "200", "bytes": "512",
                    "referrer": "\\"-\\"", "agent": "\\"curl/8.5.0\\""}}
    """

    sets_source_success: ClassVar[bool] = True

    class Options(PluginOptions):
        pattern: list[str] = Field(
            ..., min_length=1, description="grok pattern, or a list tried in order"
        )
        patterns: dict[str, str] = Field(
            default_factory=dict, description="extra named patterns: {NAME: regex}"
        )
        pattern_dir: list[str] = Field(
            default_factory=list,
            description="directories of Logstash-format pattern files (one or a list)",
        )
        break_on_match: bool = Field(True, description="stop at the first pattern that matches")
        overwrite_message_key: str = Field(
            "", description="replace message with this capture when it is present"
        )
        target: str = Field("", description="put the captures under this field instead")
        keep_empty_captures: bool = Field(False, description="keep empty captures as ''")
        timeout_ms: int = Field(
            500, ge=1, description="time budget of one line (lines past it: _groktimeout)"
        )
        field: str = Field(
            "message", description="what to match: a field path (README: Field paths)"
        )
        tag_on_failure: list[str] = Field(
            default_factory=lambda: [FAILURE_TAG],
            description="tags added when no pattern matches (one or a list; [] for none)",
        )
        tag_on_timeout: str = Field(
            TIMEOUT_TAG, description="tag added when a line ran out of timeout-ms ('' for none)"
        )
        named_captures_only: bool = Field(
            True,
            description="false: %{NAME} without a field name captures too, into field NAME",
        )
        overwrite: list[str] = Field(
            default_factory=list,
            description="fields a capture may replace; a capture into any other field that "
            "already holds a value makes it a list [old, new] (Logstash); 'message' "
            "replaces the message text",
        )
        patterns_files_glob: str = Field(
            "*", description="which files of each pattern-dir are read (a glob)"
        )
        ecs_compatibility: Literal["disabled", "v1", "v8"] = Field(
            "disabled",
            description="the pattern library: disabled = legacy field names, v1/v8 = the "
            "ECS library (nested Elastic Common Schema fields; docs/grok.md)",
        )

        _norm = field_validator(
            "pattern", "pattern_dir", "tag_on_failure", "overwrite", mode="before"
        )(_one_or_list)

        @model_validator(mode="after")
        def _compiles(self) -> GrokFilter.Options:
            build(self)  # every pattern problem is a config error
            return self

    exported_metrics = (
        MetricSpec("matched", "counter", "messages a pattern matched"),
        MetricSpec(
            "unmatched", "counter", "messages no pattern matched (tagged _grokparsefailure)"
        ),
        MetricSpec("timeouts", "counter", "matches abandoned at timeout-ms (tagged _groktimeout)"),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.groks = build(self.options)
        self.timeout = self.options.timeout_ms / 1000.0
        # field and target are field paths (README: Field paths): a bare name or a.b is
        # under fields, as grok always took it; fields.x, labels.x, host … name the rest
        src = parse_path(self.options.field)
        self.field_path = None if src == parse_path("message") else src.get
        self.target = _fields_keys(self.options.target) if self.options.target else None
        self.overwrite = (
            field_path(self.options.overwrite_message_key)
            if self.options.overwrite_message_key
            else None
        )
        self._last_warn = 0.0
        self._unwarned = 0
        self.fail_tags = list(self.options.tag_on_failure)
        self.timeout_tag = self.options.tag_on_timeout
        self.overwrite_fields = {field_path(f) for f in self.options.overwrite}
        self.replace_message = ("message",) in self.overwrite_fields
        #: the common case: one pattern on ``message`` into ``fields``
        self.simple = (
            len(self.groks) == 1
            and self.field_path is None
            and self.target is None
            and self.overwrite is None
            and not self.replace_message
        )

    async def process(self, batch: list[Message]) -> list[Message]:
        if self.simple:
            self._process_simple(batch)
        else:
            self._process_general(batch)
        return batch

    def _process_simple(self, batch: list[Message]) -> None:
        """The common case, kept minimal: one pattern on ``message`` into ``fields``."""
        g = self.groks[0]
        limit = g.max_fast_len
        fast = g.fast.search if g.fast is not None else None
        extract = g.extract
        need = g.required
        failed = timed_out = 0
        for m in batch:
            text = m.message
            if need is not None and need not in text:
                mt = None  # a literal every match contains is missing
            elif len(text) <= limit:
                mt = fast(text)  # type: ignore[misc]
            else:
                try:
                    mt = g.search_slow(text, self.timeout)
                except GrokTimeout:
                    self._timed_out(m)
                    timed_out += 1
                    continue
            if mt is None:
                m.source_success = False
                self._tag_failure(m)
                failed += 1
            elif m._fields:  # captures meet existing fields: Logstash's merge rule
                m.source_success = True
                new: dict[str, Any] = {}
                extract(mt.groups(), new)
                _merge(m.fields, new, self.overwrite_fields, ())
            else:
                m.source_success = True
                extract(mt.groups(), m.fields)
        self._count(len(batch) - timed_out, failed)

    def _process_general(self, batch: list[Message]) -> None:
        failed = 0
        timed_out = 0
        for m in batch:
            text = self._text(m)
            matched = False
            new: dict[str, Any] = {}
            budget = self.timeout
            if text is not None:
                for g in self.groks:
                    if g.required is not None and g.required not in text:
                        mt = None
                    elif len(text) <= g.max_fast_len:
                        mt = g.fast.search(text)  # type: ignore[union-attr]
                    else:
                        t0 = time.monotonic()
                        try:
                            mt = g.search_slow(text, max(budget, 0.001))
                        except GrokTimeout:
                            mt = None
                            budget = 0.0
                        else:
                            budget -= time.monotonic() - t0
                    if mt is not None:
                        matched = True
                        g.extract(mt.groups(), new)
                        if self.options.break_on_match:
                            break
                    if budget <= 0:
                        break
            if matched:
                m.source_success = True
                if self.replace_message and "message" in new:
                    v = new.pop("message")
                    m.message = v if isinstance(v, str) else str(v)
                dest = self._dest(m)
                if dest:
                    _merge(dest, new, self.overwrite_fields, ())
                else:
                    dest.update(new)
                if self.overwrite is not None:
                    v = _get(dest, self.overwrite)
                    if v is not None:
                        m.message = v if isinstance(v, str) else str(v)
            elif budget <= 0:
                self._timed_out(m)
                timed_out += 1
            else:
                m.source_success = False
                self._tag_failure(m)
                failed += 1
        self._count(len(batch) - timed_out, failed)

    # -- workers: only the texts cross (Filter.worker_texts) -------------------------
    def worker_texts(self, batch: list[Message]) -> list[str] | None:
        """The texts, when the work is :meth:`_process_simple`'s on messages without
        fields (no merge with what a message holds: a collector's lines)."""
        if not self.simple:
            return None
        for m in batch:  # plain loops: cheaper than map(attrgetter) on Python 3.11
            if m._fields:
                return None
        return [m.message for m in batch]

    def process_texts(self, texts: list[str]) -> tuple[list[bytes], Any]:
        """:meth:`_process_simple` on texts: each one's captures as a JSON object (b"" for
        none), and the indexes of the texts no pattern matched and of those timed out."""
        g = self.groks[0]
        limit = g.max_fast_len
        fast = g.fast.search if g.fast is not None else None
        extract = g.extract
        need = g.required
        dumps = orjson.dumps
        out: list[bytes] = []
        put = out.append
        failed: list[int] = []
        timed_out: list[int] = []
        i = -1
        for text in texts:
            i += 1
            if need is not None and need not in text:
                mt = None
            elif len(text) <= limit:
                mt = fast(text)  # type: ignore[misc]
            else:
                try:
                    mt = g.search_slow(text, self.timeout)
                except GrokTimeout:
                    self._count_timeout(text)
                    timed_out.append(i)
                    put(b"")
                    continue
            if mt is None:
                failed.append(i)
                put(b"")
                continue
            f: dict[str, Any] = {}
            extract(mt.groups(), f)
            put(dumps(f) if f else b"")
        self._count(len(texts) - len(timed_out), len(failed))
        return out, [failed, timed_out]

    def apply_texts(self, batch: list[Message], fields: list[Any], extra: Any) -> None:
        failed, timed_out = extra
        for m, f in zip(batch, fields, strict=True):
            m._fields = f
            m.source_success = True
        for i in failed:
            m = batch[i]
            m.source_success = False
            self._tag_failure(m)
        for i in timed_out:
            self._tag_timeout(batch[i])

    def _tag_failure(self, m: Message) -> None:
        for t in self.fail_tags:
            if t not in m.tags:
                m.tags.append(t)

    def _text(self, m: Message) -> str | None:
        if self.field_path is None:
            return m.message
        v = self.field_path(m)
        if v is None or v is MISSING or isinstance(v, dict | list):
            return None
        return v if isinstance(v, str) else str(v)

    def _dest(self, m: Message) -> dict[str, Any]:
        d = m.fields
        if self.target is None:
            return d
        for k in self.target:
            nxt = d.get(k)
            if type(nxt) is not dict:
                nxt = d[k] = {}
            d = nxt
        return d

    def _count(self, n: int, failed: int) -> None:
        if n - failed:
            self.metrics.inc("matched", n - failed)
        if failed:
            self.metrics.inc("unmatched", failed)

    def _timed_out(self, m: Message) -> None:
        self._tag_timeout(m)
        self._count_timeout(m.message)

    def _tag_timeout(self, m: Message) -> None:
        m.source_success = False
        if self.timeout_tag and self.timeout_tag not in m.tags:
            m.tags.append(self.timeout_tag)

    def _count_timeout(self, text: str) -> None:
        self.metrics.inc("timeouts")
        self._unwarned += 1
        now = time.monotonic()
        if now - self._last_warn >= _WARN_EVERY:
            self.log.warning(
                "%d line(s) took longer than %dms to match; tagged %r and forwarded "
                "(first %d characters: %r)",
                self._unwarned,
                self.options.timeout_ms,
                self.timeout_tag,
                80,
                text[:80],
            )
            self._last_warn = now
            self._unwarned = 0


def _merge(
    dest: dict[str, Any], new: dict[str, Any], overwrite: set[tuple[str, ...]], at: tuple[str, ...]
) -> None:
    """Captures into fields that may already hold values (Logstash's rule): a new field is
    set, objects merge, a field listed in ``overwrite`` is replaced, any other existing
    value becomes a list ``[old, new]`` (or the new value is appended to a list)."""
    for k, v in new.items():
        path = (*at, k)
        old = dest.get(k)
        if k not in dest or path in overwrite:
            dest[k] = v
        elif type(old) is dict and type(v) is dict:
            _merge(old, v, overwrite, path)
        elif type(old) is list:
            old.append(v)
        else:
            dest[k] = [old, v]


def _get(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    v: Any = d
    for k in path:
        if not isinstance(v, dict):
            return None
        v = v.get(k)
    return v


def _fields_keys(target: str) -> tuple[str, ...]:
    """The keys under ``fields`` of a target path (``ValueError`` when it is elsewhere)."""
    root, keys = split_path(target)
    if root != "fields" or not keys:
        raise ValueError(f"target must be under fields (got {target!r})")
    return keys


def build(o: GrokFilter.Options) -> list[Grok]:
    """The compiled patterns of a configuration (``ValueError`` on any problem)."""
    try:
        lib = PatternLibrary(ecs=o.ecs_compatibility)
        for d in o.pattern_dir:
            lib.add_dir(d, o.patterns_files_glob)
        for name, rx in o.patterns.items():
            lib.add(name, rx)
        parse_path(o.field)
        if o.target:
            _fields_keys(o.target)
        if o.overwrite_message_key:
            field_path(o.overwrite_message_key)
        for f in o.overwrite:
            field_path(f)
        return [
            Grok(
                p,
                lib,
                timeout=o.timeout_ms / 1000.0,
                keep_empty=o.keep_empty_captures,
                named_captures_only=o.named_captures_only,
            )
            for p in o.pattern
        ]
    except GrokError as exc:
        raise ValueError(str(exc)) from exc
