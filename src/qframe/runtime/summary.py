"""What became of the messages of a run: the one-line summary logged at its end.

``qframe run`` logs it when the run ends (end of input, SIGINT/SIGTERM), over every pipeline
the run had (a SIGHUP reload adds the replaced one's). A batch run (one that ended at the end
of its input) exits :data:`EXIT_UNDELIVERED` when :attr:`RunSummary.lost` is not zero.

- **read**: messages the collectors read;
- **delivered**: confirmed by a handler (a message fanned out to two handlers counts twice);
- **dead-lettered**: refused by the destination and written to the dead-letter file: handled;
- **kept**: held in a disk buffer for a later run (a handler with ``buffer: {type: disk}``
  reports it in :class:`~qframe.telemetry.HandlerTally` ``kept``);
- **dropped**: by reason, over every instance; ``filtered`` (a filter's own decision) is
  intended, the other reasons are losses;
- **undelivered**: neither confirmed, nor dead-lettered, kept or dropped: left unacknowledged
  by a handler at its stop (its destination down), or still queued when the shutdown timeout
  cancelled the pipeline; by instance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..plugin import Handler

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["EXIT_UNDELIVERED", "INTENDED_DROPS", "RunSummary", "summarize"]

#: exit code of a batch run that ended with messages undelivered or dropped
EXIT_UNDELIVERED = 3
#: drop reasons that are the configuration's intent, not a loss
INTENDED_DROPS = frozenset({"filtered"})
#: drops the runtime counts for a handler outside ``handle()`` or for its failure
_RUNTIME_DROPS = frozenset({"closed", "handler_error", "shutdown_timeout"})


@dataclass
class RunSummary:
    read: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    undelivered: Counter[str] = field(default_factory=Counter)  # by instance key

    def __add__(self, other: RunSummary) -> RunSummary:
        return RunSummary(
            self.read + other.read,
            self.delivered + other.delivered,
            self.dead_lettered + other.dead_lettered,
            self.kept + other.kept,
            self.dropped + other.dropped,
            self.undelivered + other.undelivered,
        )

    @property
    def lost(self) -> int:
        """Messages undelivered or dropped for a reason other than an intended one."""
        dropped = sum(n for r, n in self.dropped.items() if r not in INTENDED_DROPS)
        return sum(self.undelivered.values()) + dropped

    def line(self) -> str:
        """``read 3, delivered 0, dead-lettered 0, dropped 0, undelivered 3 (handler.es 3)``."""

        def detail(c: Counter[str]) -> str:
            total = sum(c.values())
            parts = ", ".join(f"{k} {n}" for k, n in sorted(c.items()) if n)
            return f"{total} ({parts})" if parts else str(total)

        kept = f", kept {self.kept}" if self.kept else ""
        return (
            f"read {self.read}, delivered {self.delivered}, dead-lettered {self.dead_lettered}"
            f"{kept}, dropped {detail(self.dropped)}, undelivered {detail(self.undelivered)}"
        )


def summarize(pipeline: Pipeline) -> RunSummary:
    """The summary of one pipeline, from its instances' counters (call it once it stopped)."""
    s = RunSummary()
    for key, node in pipeline.nodes.items():
        m = node.metrics
        s.dropped.update({r: n for r, n in m.dropped.items() if n})
        queued = len(node.inbox) if node.inbox is not None else 0
        if queued:
            s.undelivered[key] += queued
        if node.type == "collector":
            s.read += m.received
        plugin = node.plugin
        if not isinstance(plugin, Handler):
            continue
        tally = plugin.tally()
        if tally is None:  # acknowledged when handle() returned
            own_drops = sum(n for r, n in m.dropped.items() if r not in _RUNTIME_DROPS)
            s.delivered += node.handled - own_drops
            failed = m.dropped.get("handler_error", 0)
            in_hand = m.received - node.handled - failed  # cancelled inside handle()
            if in_hand > 0:
                s.undelivered[key] += in_hand
            continue
        s.delivered += tally.delivered
        s.dead_lettered += tally.dead_lettered
        s.kept += tally.kept
        if tally.unconfirmed:
            s.undelivered[key] += tally.unconfirmed
    return s
