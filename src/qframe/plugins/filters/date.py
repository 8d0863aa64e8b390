"""date: sets the message time (or a ``target`` field) from a field's text."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator, model_validator

from ...message import Message, format_time
from ...options import Field, PluginOptions
from ...paths import parse_path
from ...plugin import Filter
from ...telemetry import MetricSpec
from ...timeparse import DateParser
from .transform import check_path, text_of

FAILURE_TAG = "_dateparsefailure"


class DateFilter(Filter):
    """Parses a time from ``field`` with ``formats`` (tried in order) and sets the message
    time, or a ``target`` field (RFC 3339 text).

    Formats: Logstash/Joda patterns (``dd/MMM/yyyy:HH:mm:ss Z``, ``MMM dd HH:mm:ss``,
    ``yyyy-MM-dd'T'HH:mm:ss.SSSZZ``; letters y M d H h m s S Z ZZ ZZZ a EEE, ``'quoted'``
    text), strftime (``%d/%b/%Y:%H:%M:%S %z``; %Y %y %m %d %e %H %I %M %S %f %z %Z %b %B %a
    %p %T %F %s) and ``ISO8601``, ``UNIX`` (seconds), ``UNIX_MS``, ``TAI64N``. A space in a
    format matches one or more spaces. A format without an offset is in ``timezone`` (UTC,
    ``+02:00`` or an IANA name such as ``Europe/Berlin``); month names follow ``locale``
    (en, de, fr, es). A format without a year (syslog's ``MMM dd HH:mm:ss``) takes the
    current year — the previous one for a December line read in January.

    Formats are compiled once into one regular expression each; the time of an hour is
    computed once and cached, a line adds its minutes and seconds.

    No format matches (or the field is absent): tag ``_dateparsefailure``, the message
    goes on unchanged (``source_success`` is not changed: a date is rarely an else-branch).

    Metrics: ``qframe_parsed_total``, ``qframe_failed_total``.

    Example (``field: fields.ts, formats: ["dd/MMM/yyyy:HH:mm:ss Z"]``)::

        fields.ts: "26/Nov/2026:05:00:01 +0100" → @timestamp: "2026-11-26T04:00:01.000000Z"
    """

    class Options(PluginOptions):
        field: str = Field("fields.timestamp", description="the field path holding the time text")
        formats: list[str] = Field(
            default_factory=lambda: ["ISO8601"], min_length=1, description="formats, tried in order"
        )
        target: str = Field(
            "time", description="time (the message time) or a field path (RFC 3339 text)"
        )
        timezone: str = Field("UTC", description="zone of formats without an offset")
        locale: str = Field("en", description="language of month names: en, de, fr, es")
        remove_field: bool = Field(False, description="remove the source field once parsed")

        @field_validator("field")
        @classmethod
        def _field_ok(cls, v: str) -> str:
            return check_path(v)

        @field_validator("target")
        @classmethod
        def _target_ok(cls, v: str) -> str:
            return check_path(v, writable=True)

        @field_validator("formats", mode="before")
        @classmethod
        def _one_or_list(cls, v: Any) -> Any:
            return [v] if isinstance(v, str) else v

        @model_validator(mode="after")
        def _compiles(self) -> DateFilter.Options:
            DateParser(self.formats, self.timezone, self.locale)
            return self

    exported_metrics = (
        MetricSpec("parsed", "counter", "messages whose time was parsed"),
        MetricSpec("failed", "counter", "messages no format matched (tagged _dateparsefailure)"),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        o = self.options
        self.parser = DateParser(o.formats, o.timezone, o.locale)
        self.src = parse_path(o.field)
        self.text = text_of(self.src.get)
        tgt = parse_path(o.target)
        self.to_time = tgt == parse_path("time")
        self.target = tgt

    async def process(self, batch: list[Message]) -> list[Message]:
        parse = self.parser.parse
        text = self.text
        to_time = self.to_time
        remove = self.options.remove_field
        ok = bad = 0
        for m in batch:
            s = text(m)
            t = parse(s.strip()) if s else None
            if t is None:
                if m._tags is None:
                    m._tags = [FAILURE_TAG]
                elif FAILURE_TAG not in m._tags:
                    m._tags.append(FAILURE_TAG)
                bad += 1
                continue
            if to_time:
                m.time = t
            else:
                self.target.set(m, format_time(t))
            if remove:
                self.src.delete(m)
            ok += 1
        if ok:
            self.metrics.inc("parsed", ok)
        if bad:
            self.metrics.inc("failed", bad)
        return batch
