"""The one message class for logs, events and metrics, and its canonical JSON.

A :class:`Message` is a plain object with ``__slots__`` (it is created for every
line that enters the daemon, so it must be cheap).  ``time`` is the event time as
seconds since the epoch (UTC, float); the canonical JSON renders it as RFC 3339 with
microseconds under ``@timestamp``.

This module is the data model (Message, ContainerInfo, Metric, Delivery, the time
helpers); the fast paths over whole batches (a collector's read, the JSON lines of a
batch) are in :mod:`qframe.batch`.  A new attribute of Message touches both: its slot,
``__init__``, ``copy``, ``to_dict``/``from_dict`` and :func:`new_log` here, and
:func:`qframe.batch.new_logs` and the run rule of :func:`qframe.batch.json_lines`
there (tests/unit/core/test_message_slots.py fails when one of them is missed).
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime
from math import floor as _floor
from typing import Any

import orjson

__all__ = [
    "KIND_EVENT",
    "KIND_LOG",
    "KIND_METRIC",
    "ContainerInfo",
    "Delivery",
    "Message",
    "Metric",
    "SharedFields",
    "fields_of",
    "format_time",
    "format_times",
    "json_default",
    "new_log",
    "parse_time",
]

KIND_LOG = "log"
KIND_EVENT = "event"
KIND_METRIC = "metric"


class Delivery:
    """A delivery token: counts the copies of messages still in flight.

    A collector that wants to know when its messages are delivered gives them a
    token (one token may be shared by a whole batch: ``pending`` counts messages).
    Fan-out adds to ``pending``; a handler that confirmed a write, or a filter that
    dropped a message, calls :meth:`done`.  When ``pending`` reaches zero the
    callback runs once.

    ``end_to_end``: the source keeps its own copy until the destination confirmed (the
    nats collector: a replicated JetStream stream), so a handler's disk buffer does not
    acknowledge these messages once their record is durable on this host, only once the
    destination confirmed the record.
    """

    __slots__ = ("callback", "end_to_end", "pending")

    def __init__(self, pending: int, callback: Any, end_to_end: bool = False) -> None:
        self.pending = pending
        self.callback = callback
        self.end_to_end = end_to_end

    def done(self, n: int = 1) -> None:
        self.pending -= n
        if self.pending <= 0 and self.callback is not None:
            cb, self.callback = self.callback, None
            cb()

    @property
    def complete(self) -> bool:
        return self.callback is None


class ContainerInfo:
    """What is known about a container (attached to every message about it)."""

    __slots__ = (
        "command",
        "created",
        "id",
        "image",
        "image_id",
        "ips",
        "labels",
        "name",
        "service_name",
        "service_slot",
        "task_slot",
    )

    def __init__(
        self,
        id: str = "",
        name: str = "",
        image: str = "",
        image_id: str = "",
        labels: dict[str, str] | None = None,
        ips: dict[str, str] | None = None,
        created: str = "",
        command: str = "",
        service_name: str = "",
        service_slot: str = "",
        task_slot: str = "",
    ) -> None:
        self.id = id
        self.name = name.lstrip("/")
        self.image = image
        self.image_id = image_id
        self.labels = labels or {}
        self.ips = ips or {}  # network name -> IP address
        self.created = created
        self.command = command
        self.service_name = service_name
        self.service_slot = service_slot
        self.task_slot = task_slot

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k in self.__slots__ if (v := getattr(self, k))}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContainerInfo:
        return cls(**{k: v for k, v in d.items() if k in cls.__slots__})

    def __repr__(self) -> str:
        return f"ContainerInfo(id={self.id[:12]!r}, name={self.name!r}, image={self.image!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContainerInfo) and self.to_dict() == other.to_dict()


class Metric:
    """One point: a measurement name, a type and its numeric fields."""

    __slots__ = ("fields", "name", "type")

    def __init__(self, name: str, fields: dict[str, Any], type: str = "gauge") -> None:
        self.name = name
        self.type = type  # gauge | counter
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "fields": self.fields}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(d["name"], dict(d.get("fields") or {}), d.get("type", "gauge"))

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.fields!r})"


class SharedFields(dict):  # type: ignore[type-arg]
    """A ``fields`` dict given to every message of one batch (e.g. a connection's address).

    It saves a dict per line, and lets :func:`qframe.batch.json_lines` see at once that
    messages share their fields.  :attr:`Message.fields` copies it on first access, so a change made
    through one message stays with that message; read-only paths (``to_dict``, the
    encoders) read it through ``_fields`` without copying.
    """

    __slots__ = ()


class Message:
    """A log line, an event or a metric point on its way through the pipeline."""

    __slots__ = (
        "_fields",
        "_labels",
        "_tags",
        "ack",
        "container",
        "host",
        "id",
        "kind",
        "level",
        "message",
        "metric",
        "source_path",
        "source_success",
        "time",
    )

    def __init__(
        self,
        message: str = "",
        time: float | None = None,
        kind: str = KIND_LOG,
        *,
        level: int = 6,
        host: str = "",
        id: str = "",
        source_path: list[str] | None = None,
        source_success: bool = True,
        labels: dict[str, str] | None = None,
        tags: list[str] | None = None,
        fields: dict[str, Any] | None = None,
        container: ContainerInfo | None = None,
        metric: Metric | None = None,
        ack: Delivery | None = None,
    ) -> None:
        self.message = message
        self.time = _time.time() if time is None else time
        self.kind = kind
        self.level = level
        self.host = host
        self.id = id
        self.source_path = [] if source_path is None else source_path
        self.source_success = source_success
        # fields, tags and labels are created on first use: most lines never need them
        self._labels = labels
        self._tags = tags
        self._fields = fields
        self.container = container
        self.metric = metric
        self.ack = ack

    @property
    def fields(self) -> dict[str, Any]:
        f = self._fields
        if f is None:
            f = self._fields = {}
        elif type(f) is SharedFields:  # copy on first access: changes stay with this message
            f = self._fields = dict(f)
        elif type(f) is bytes:  # still its JSON (a worker's result): decoded on first use
            f = self._fields = orjson.loads(f)
        return f

    @fields.setter
    def fields(self, value: dict[str, Any]) -> None:
        self._fields = value

    @property
    def tags(self) -> list[str]:
        t = self._tags
        if t is None:
            t = self._tags = []
        return t

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self._tags = value

    @property
    def labels(self) -> dict[str, str]:
        lb = self._labels
        if lb is None:
            lb = self._labels = {}
        return lb

    @labels.setter
    def labels(self, value: dict[str, str]) -> None:
        self._labels = value

    def copy(self) -> Message:
        """A copy whose mutable parts (fields, tags, labels, source_path) are its own."""
        m = Message.__new__(Message)
        m.message = self.message
        m.time = self.time
        m.kind = self.kind
        m.level = self.level
        m.host = self.host
        m.id = self.id
        m.source_path = self.source_path.copy()
        m.source_success = self.source_success
        m._labels = self._labels.copy() if self._labels else None
        m._tags = self._tags.copy() if self._tags else None
        f = self._fields
        m._fields = (f if type(f) is bytes else _deepish_copy(f)) if f else None
        m.container = self.container  # shared, treated as immutable
        m.metric = (
            Metric(self.metric.name, dict(self.metric.fields), self.metric.type)
            if self.metric
            else None
        )
        m.ack = self.ack
        return m

    def add_tag(self, tag: str) -> None:
        t = self._tags
        if t is None:
            self._tags = [tag]
        elif tag not in t:
            t.append(tag)

    def to_dict(self, _containers: dict[int, Any] | None = None) -> dict[str, Any]:
        """The canonical form (docs/architecture.md): ``@timestamp`` for time, empty parts left out.

        ``_containers`` (for encoders of a batch): a cache, by identity, of each container
        already encoded, whose ``container`` is then that JSON (an ``orjson.Fragment``); so
        are fields still held as their JSON (:func:`fields_of`), which are decoded otherwise.
        """
        d: dict[str, Any] = {"@timestamp": format_time(self.time)}
        if self.id:
            d["id"] = self.id
        d["kind"] = self.kind
        if self.message:
            d["message"] = self.message
        d["level"] = self.level
        if self.host:
            d["host"] = self.host
        if self.source_path:
            d["source_path"] = self.source_path
        d["source_success"] = self.source_success
        if self._labels:
            d["labels"] = self._labels
        if self._tags:
            d["tags"] = self._tags
        f = self._fields
        if f:
            if type(f) is bytes:
                d["fields"] = fields_of(self) if _containers is None else orjson.Fragment(f)
            else:
                d["fields"] = f
        c = self.container
        if c is not None:
            if _containers is None:
                d["container"] = c.to_dict()
            else:
                frag = _containers.get(id(c))
                if frag is None:  # c lives as long as the batch: its id is not reused meanwhile
                    frag = _containers[id(c)] = orjson.Fragment(
                        orjson.dumps(c.to_dict(), default=json_default)
                    )
                d["container"] = frag
        if self.metric is not None:
            d["metric"] = self.metric.to_dict()
        return d

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict({}), default=json_default)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Message:
        c = d.get("container")
        m = d.get("metric")
        return cls(
            d.get("message", ""),
            parse_time(d["@timestamp"]) if "@timestamp" in d else None,
            d.get("kind", KIND_LOG),
            level=d.get("level", 6),
            host=d.get("host", ""),
            id=d.get("id", ""),
            source_path=list(d.get("source_path", [])),
            source_success=d.get("source_success", True),
            labels=dict(d.get("labels", {})),
            tags=list(d.get("tags", [])),
            fields=dict(d.get("fields", {})),
            container=ContainerInfo.from_dict(c) if c else None,
            metric=Metric.from_dict(m) if m else None,
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Message:
        return cls.from_dict(orjson.loads(data))

    def __repr__(self) -> str:
        return f"Message({self.kind}, {self.message[:60]!r}, path={self.source_path})"


_new = Message.__new__


def fields_of(m: Message) -> dict[str, Any] | None:
    """``m._fields`` as a dict (or None, or a :class:`SharedFields`), never its JSON.

    ``_fields`` may hold the fields' JSON object as ``bytes``, not yet decoded: what a
    filter's worker process sent back (``workers: N``, :mod:`qframe.runtime.workwire`),
    decoded only when something reads them; an encoder of the canonical JSON puts those
    bytes in as they are.  Code that reads ``_fields`` directly (to avoid creating the
    dict) calls this, or handles the bytes itself; :attr:`Message.fields` decodes too.
    """
    f = m._fields
    if type(f) is bytes:
        f = m._fields = orjson.loads(f)
    return f  # type: ignore[return-value]


def new_log(
    message: str,
    time: float,
    host: str,
    source_path: list[str],
    id: str = "",
    fields: dict[str, Any] | None = None,
    ack: Delivery | None = None,
    container: ContainerInfo | None = None,
) -> Message:
    """A ``log`` message, built without keyword parsing: for collectors' per-line hot paths.

    Equivalent to ``Message(message, time, host=host, source_path=source_path, id=id,
    fields=fields, ack=ack, container=container)`` at about half the cost.
    """
    m = _new(Message)
    m.message = message
    m.time = time
    m.kind = KIND_LOG
    m.level = 6
    m.host = host
    m.id = id
    m.source_path = source_path
    m.source_success = True
    m._labels = None
    m._tags = None
    m._fields = fields
    m.container = container
    m.metric = None
    m.ack = ack
    return m


def _deepish_copy(d: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_deepish_copy(v) if type(v) is dict else v.copy() if type(v) is list else v)
        for k, v in d.items()
    }


def json_default(obj: Any) -> Any:
    """orjson's ``default`` for the canonical JSON: what orjson does not encode itself."""
    if isinstance(obj, ContainerInfo | Metric):
        return obj.to_dict()
    if isinstance(obj, bytes | bytearray):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return str(obj)


# format_time is called for every message written: cache the last second's prefix and
# the last value (a batch of lines read together shares one timestamp).
_last_sec: int | None = None
_last_prefix: str = ""
_last_t: float = float("nan")  # equal to no time: the first call formats
_last_s: str = ""


def format_time(t: float) -> str:
    """RFC 3339, UTC, microseconds: ``2026-11-26T05:00:00.123456Z``."""
    global _last_sec, _last_prefix, _last_t, _last_s  # a pure cache, not state
    if t == _last_t:
        return _last_s
    sec = _floor(t)  # (int() truncates toward 0: before 1970 the second is the one below)
    if sec != _last_sec:
        _last_prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(sec))
        _last_sec = sec
    us = round((t - sec) * 1_000_000)
    if us >= 1_000_000:
        return format_time(float(sec + 1))
    _last_t = t
    _last_s = f"{_last_prefix}.{us:06d}Z"
    return _last_s


_DIGITS3 = [f"{i:03d}" for i in range(1000)]


def format_times(times: list[float]) -> list[str]:
    """:func:`format_time` of each time (the same strings), for a batch whose messages have
    their own times (a container log file's lines): the second's prefix made once per run
    of one second (a time is in it when it lies in ``[second, second + 1)``: two float
    comparisons, no ``int``), a time equal to the one before reused, the microseconds put
    together from two 3-digit strings (a zero-padded format per message costs more than
    the rest); a time before 1970, or whose microseconds round up to the next second, is
    :func:`format_time`'s."""
    out: list[str] = []
    put = out.append
    digits = _DIGITS3
    lo = hi = 0.0  # the second of ``prefix``, and the next: none yet
    prefix = ""
    last_t = None
    s = ""
    for t in times:
        if t == last_t:
            put(s)
            continue
        if not lo <= t < hi:
            if not t >= 0.0:  # (int truncates: floor only from 0 up)
                s = format_time(t)
                last_t = t
                put(s)
                continue
            sec = int(t)
            prefix = _time.strftime("%Y-%m-%dT%H:%M:%S.", _time.gmtime(sec))
            lo = float(sec)
            hi = lo + 1.0
        us = (t - lo) * 1_000_000
        if us < 999_999.5:  # round() below 1_000_000
            us = round(us)
            s = f"{prefix}{digits[us // 1000]}{digits[us % 1000]}Z"
        else:
            s = format_time(t)
        last_t = t
        put(s)
    return out


def parse_time(s: str) -> float:
    """Parse an RFC 3339 / ISO 8601 timestamp (any precision, ``Z`` or offset) to epoch seconds."""
    s = s.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python's fromisoformat takes at most 6 fractional digits: trim nanoseconds.
    dot = s.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(s) and s[end].isdigit():
            end += 1
        frac = s[dot + 1 : end][:6]
        s = s[: dot + 1] + frac.ljust(6, "0") + s[end:]
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
