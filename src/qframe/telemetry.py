"""Per-plugin counters and their Prometheus text rendering.

Every plugin instance has a :class:`PluginMetrics`: the core telemetry every plugin
emits (received, emitted, dropped by reason, errors, restarts, queue depth) plus any
counter or gauge the plugin adds with :meth:`PluginMetrics.inc` / :meth:`set_gauge`.
Those it declares, as :class:`MetricSpec` in its class's ``exported_metrics`` (next to
its options); ``make docs`` lists them in docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

__all__ = ["HandlerTally", "MetricSpec", "PluginMetrics", "render_prometheus"]


@dataclass(frozen=True)
class HandlerTally:
    """What became of the messages a manual-ack handler took (see ``Handler.tally``)."""

    delivered: int = 0  # confirmed by the destination
    dead_lettered: int = 0  # refused by it, written to the dead-letter file
    kept: int = 0  # held in a disk buffer for a later run
    unconfirmed: int = 0  # none of these (still pending, or abandoned at stop)


class MetricSpec(NamedTuple):
    """A metric a plugin exports besides the core ones.

    A ``counter`` named ``x`` (:meth:`PluginMetrics.inc`) is exported as
    ``qframe_x_total``, a ``gauge`` (:meth:`PluginMetrics.set_gauge`) as ``qframe_x``;
    both carry the labels plugin, kind and type, and those ``help`` names.
    """

    name: str
    type: Literal["counter", "gauge"]
    help: str

    @property
    def exported_name(self) -> str:
        return f"qframe_{self.name}_total" if self.type == "counter" else f"qframe_{self.name}"


HEALTH_STATES = ("starting", "ok", "degraded", "failed", "stopped")


class PluginMetrics:
    """The telemetry of one plugin instance."""

    #: None, or (set by the tests, see tests/conftest.py) a list to which every counter or
    #: gauge set without a declaration (``exported_metrics``) is added
    undeclared: ClassVar[list[str] | None] = None

    __slots__ = (
        "counters",
        "declared",
        "dropped",
        "emitted",
        "errors",
        "gauges",
        "kind",
        "plugin",
        "queue_capacity",
        "queue_depth",
        "received",
        "restarts",
        "state",
        "state_reason",
        "type",
        "workers",
    )

    def __init__(
        self, plugin: str, kind: str, type: str, declared: Iterable[MetricSpec] = ()
    ) -> None:
        self.plugin = plugin
        self.kind = kind
        self.type = type
        self.received = 0
        self.emitted = 0
        self.errors = 0
        self.restarts = 0
        self.dropped: dict[str, int] = {}
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.queue_depth: Callable[[], int] = lambda: 0
        self.queue_capacity = 0
        self.state = "starting"
        self.state_reason = ""
        #: a filter's worker processes (``workers``): their stats, or None
        self.workers: Callable[[], list[dict[str, Any]]] | None = None
        #: the (name, type) of each metric the plugin declared
        self.declared = frozenset((d.name, d.type) for d in declared)

    def _undeclared(self, name: str, type: str) -> None:
        if (name, type) not in self.declared and PluginMetrics.undeclared is not None:
            PluginMetrics.undeclared.append(f"{self.type} {self.kind}: {type} {name!r}")

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def inc(self, name: str, n: float = 1, **labels: str) -> None:
        """Add to a plugin-specific counter, exported as ``qframe_<name>_total``."""
        key = (name, tuple(sorted(labels.items())))
        self.counters[key] = self.counters.get(key, 0) + n
        if PluginMetrics.undeclared is not None:
            self._undeclared(name, "counter")

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        """Set a plugin-specific gauge, exported as ``qframe_<name>``."""
        self.gauges[(name, tuple(sorted(labels.items())))] = value
        if PluginMetrics.undeclared is not None:
            self._undeclared(name, "gauge")

    def counter(self, name: str, **labels: str) -> float:
        return self.counters.get((name, tuple(sorted(labels.items()))), 0)

    def snapshot(self) -> dict[str, Any]:
        snap = self._snapshot()
        backlog = self.gauges.get(("disk_buffer_events", ()))
        if backlog is not None:  # a handler's disk buffer: its backlog
            size = self.gauges.get(("disk_buffer_bytes", ()), 0)
            snap["disk_buffer"] = {"events": int(backlog), "bytes": int(size)}
        if self.workers is not None:
            snap["workers"] = self.workers()
        return snap

    def _snapshot(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "kind": self.kind,
            "type": self.type,
            "state": self.state,
            "reason": self.state_reason,
            "received": self.received,
            "emitted": self.emitted,
            "errors": self.errors,
            "restarts": self.restarts,
            "dropped": dict(self.dropped),
            "queue_depth": self.queue_depth(),
            "queue_capacity": self.queue_capacity,
        }


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{_esc(str(v))}"' for k, v in pairs) + "}"


def render_prometheus(all_metrics: Iterable[PluginMetrics]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    ms = list(all_metrics)
    out: list[str] = []

    def family(
        name: str, typ: str, help_: str, rows: list[tuple[list[tuple[str, str]], float]]
    ) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {typ}")
        for labels, value in rows:
            out.append(
                f"{name}{_labels(labels)} {value:g}"
                if isinstance(value, float)
                else f"{name}{_labels(labels)} {value}"
            )

    def base(m: PluginMetrics) -> list[tuple[str, str]]:
        return [("plugin", m.plugin), ("kind", m.kind), ("type", m.type)]

    family(
        "qframe_received_total",
        "counter",
        "Messages received by a plugin instance.",
        [(base(m), m.received) for m in ms],
    )
    family(
        "qframe_emitted_total",
        "counter",
        "Messages emitted by a plugin instance.",
        [(base(m), m.emitted) for m in ms],
    )
    family(
        "qframe_dropped_total",
        "counter",
        "Messages dropped, by reason.",
        [([*base(m), ("reason", r)], n) for m in ms for r, n in sorted(m.dropped.items())],
    )
    family(
        "qframe_errors_total",
        "counter",
        "Errors raised or reported by a plugin instance.",
        [(base(m), m.errors) for m in ms],
    )
    family(
        "qframe_restarts_total",
        "counter",
        "Restarts of a plugin instance by the supervisor.",
        [(base(m), m.restarts) for m in ms],
    )
    family(
        "qframe_queue_depth",
        "gauge",
        "Messages waiting in a plugin instance's input queue.",
        [(base(m), m.queue_depth()) for m in ms],
    )
    family(
        "qframe_up",
        "gauge",
        "1 when the plugin instance is healthy (ok), else 0.",
        [(base(m), 1 if m.state == "ok" else 0) for m in ms],
    )
    workers = [(m, w) for m in ms if m.workers is not None for w in m.workers()]
    if workers:
        family(
            "qframe_worker_rss_bytes",
            "gauge",
            "Resident memory of a filter's or collector's worker process.",
            [([*base(m), ("worker", str(w["worker"]))], w["rss_bytes"]) for m, w in workers],
        )
        family(
            "qframe_worker_restarts_total",
            "counter",
            "Restarts of a filter's or collector's worker process (it died).",
            [([*base(m), ("worker", str(w["worker"]))], w["restarts"]) for m, w in workers],
        )
    extra: dict[str, list[tuple[list[tuple[str, str]], float]]] = {}
    for m in ms:
        for (name, labels), v in m.counters.items():
            extra.setdefault(f"qframe_{name}_total", []).append(([*base(m), *labels], v))
    for name, rows in sorted(extra.items()):
        family(name, "counter", f"Plugin counter {name[7:-6]}.", rows)
    gauges: dict[str, list[tuple[list[tuple[str, str]], float]]] = {}
    for m in ms:
        for (name, labels), v in m.gauges.items():
            gauges.setdefault(f"qframe_{name}", []).append(([*base(m), *labels], v))
    for name, rows in sorted(gauges.items()):
        family(name, "gauge", f"Plugin gauge {name[7:]}.", rows)
    return "\n".join(out) + "\n"
