"""Messages → InfluxDB line protocol, with escaping and exact field types.

``measurement,tag=v,tag2=v2 field=1.5,count=3i,ok=true,text="a \\"b\\"" 1700000000``

- measurement: commas and spaces escaped; tag keys/values and field keys: commas,
  equals signs and spaces escaped; string field values: quotes and backslashes escaped.
- ints get the ``i`` suffix (ints beyond 64 bits are written as floats), floats are
  written exactly (``repr``), NaN and infinities are left out (InfluxDB refuses them),
  ``None`` is left out, bools are ``true``/``false``.
- tags are sorted by key (InfluxDB's advice); empty tag values are left out.
- newlines become spaces in names and tags (kept in string values, which InfluxDB
  reads back exactly); trailing backslashes in names and tags, which line protocol
  cannot express, are removed (a tag left empty is left out).
"""

from __future__ import annotations

import math
from typing import Any

from ....message import Message

__all__ = ["PRECISIONS", "LineEncoder", "escape_measurement", "escape_tag", "format_field"]

#: precision → (multiplier from seconds, v1 query value)
PRECISIONS: dict[str, tuple[float, str]] = {
    "s": (1.0, "s"),
    "ms": (1e3, "ms"),
    "us": (1e6, "u"),
    "ns": (1e9, "n"),
}
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_MEAS_TABLE = str.maketrans({",": "\\,", " ": "\\ ", "\n": "\\ ", "\r": "\\ "})
_TAG_TABLE = str.maketrans({",": "\\,", " ": "\\ ", "=": "\\=", "\n": "\\ ", "\r": "\\ "})
_STR_TABLE = str.maketrans({"\\": "\\\\", '"': '\\"'})


def escape_measurement(s: str) -> str:
    """Escape a measurement name (trailing backslashes, which InfluxDB cannot read, removed)."""
    return s.rstrip("\\").translate(_MEAS_TABLE)


def escape_tag(s: str) -> str:
    """Escape a tag key, tag value or field key (trailing backslashes removed)."""
    return s.rstrip("\\").translate(_TAG_TABLE)


def format_field(v: Any) -> str | None:
    """A field value in line protocol, or None when it cannot be written."""
    t = type(v)
    if t is float:
        return repr(v) if math.isfinite(v) else None
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return f"{v}i" if _INT_MIN <= v <= _INT_MAX else repr(float(v))
    if t is str:
        return '"' + v.translate(_STR_TABLE) + '"'
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return format_field(int(v))
    if isinstance(v, float):
        return format_field(float(v))
    try:
        return format_field(float(v))
    except (TypeError, ValueError):
        return format_field(str(v))


class LineEncoder:
    """Encodes messages into lines; escaped series keys and field keys are cached."""

    def __init__(
        self,
        precision: str = "s",
        measurement: str = "",
        host_tag: bool = True,
        distinct: bool = True,
    ) -> None:
        self.mult = PRECISIONS[precision][0]
        #: event points of one series keep distinct times (sub-second precisions only)
        self.distinct = distinct and self.mult > 1.0
        self._last: dict[str, int] = {}
        self.event_measurement = measurement
        self.host_tag = host_tag
        self._keys: dict[str, str] = {}
        #: (measurement, host, *label items) → escaped "measurement,tag=v,…"
        self._series: dict[tuple[Any, ...], str] = {}

    def _series_key(self, name: str, labels: dict[str, str], host: str) -> str:
        key = (name, host, *labels.items())
        s = self._series.get(key)
        if s is None:
            tags = list(labels.items())
            if host and self.host_tag and "host" not in labels:
                tags.append(("host", host))
            s = escape_measurement(name) + "".join(
                f",{escape_tag(str(k))}={escape_tag(str(v))}"
                for k, v in sorted(tags)
                if str(v).rstrip("\\") != ""
            )
            if len(self._series) > 100_000:
                self._series.clear()
            self._series[key] = s
        return s

    def _fields(self, fields: dict[str, Any]) -> str:
        keys = self._keys
        parts = []
        for k, v in fields.items():
            ek = keys.get(k)
            if ek is None:
                ek = escape_tag(str(k))
                if len(keys) < 100_000:
                    keys[k] = ek
            t = type(v)
            if t is float:
                if v - v != 0:  # NaN or infinite
                    continue
                parts.append(f"{ek}={v!r}")
            elif t is int:
                parts.append(f"{ek}={v}i" if _INT_MIN <= v <= _INT_MAX else f"{ek}={float(v)!r}")
            else:
                fv = format_field(v)
                if fv is not None:
                    parts.append(f"{ek}={fv}")
        return ",".join(parts)

    def line(self, m: Message) -> str | None:
        """One line (with its newline), or None when the message makes no point."""
        metric = m.metric
        if metric is not None:
            name = metric.name
            fields = self._fields(metric.fields)
            labels = m._labels or _NO_LABELS  # read without creating them
        elif self.event_measurement:
            name = self.event_measurement
            fields = self._fields({"message": m.message, "level": m.level})
            labels = {"kind": m.kind}
            if m.container is not None and m.container.name:
                labels["container_name"] = m.container.name
            labels.update(m._labels or _NO_LABELS)
        else:
            return None
        if not fields or not name:
            return None
        ts = int(m.time) if self.mult == 1.0 else int(m.time * self.mult)
        series = self._series_key(name, labels, m.host)
        if metric is None and self.distinct:
            # lines of one read share their time: a point of the same series and time
            # would overwrite the one before, so each gets the next precision unit
            last = self._last.get(series)
            if last is not None and 0 <= last - ts < self.mult:
                ts = last + 1
            if len(self._last) > 100_000:
                self._last.clear()
            self._last[series] = ts
        return f"{series} {fields} {ts}\n"

    def encode(self, m: Message) -> bytes | None:
        s = self.line(m)
        return None if s is None else s.encode()


_NO_LABELS: dict[str, str] = {}
