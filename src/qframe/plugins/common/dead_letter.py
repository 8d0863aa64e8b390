"""A dead-letter file: JSON lines of what a plugin could not deliver or read, size-bounded.

Each record gets ``time`` and the plugin's name; past ``max_bytes`` the file is renamed to
``<file>.1`` (replacing an older one) and a new one begun, so disk use stays bounded.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...jsonsafe import dumps_lossy
from ...message import format_time
from ...telemetry import MetricSpec

if TYPE_CHECKING:
    from ...plugin import Plugin

__all__ = ["DEAD_LETTER_METRICS", "DeadLetterFile"]

#: the metrics a :class:`DeadLetterFile` sets: part of the ``exported_metrics`` of a plugin
#: that writes one
DEAD_LETTER_METRICS = (
    MetricSpec("dead_letter_rotations", "counter", "rotations of the dead-letter file"),
)


class DeadLetterFile:
    def __init__(self, plugin: Plugin, path: str, max_bytes: int) -> None:
        self.plugin = plugin
        self.path = Path(path) if path else plugin.data_dir / "dead-letter.jsonl"
        self.max_bytes = max_bytes

    def write(self, records: list[dict[str, Any]]) -> None:
        now = format_time(time.time())
        who = self.plugin.type
        lines = []
        for r in records:
            line = {"time": now, who: self.plugin.name, **r}
            lines.append(dumps_lossy(line))  # what orjson refuses is written as text
        lines.append(b"")
        data = b"\n".join(lines)
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        limit = self.max_bytes
        if limit:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > limit:
                old = path.with_name(path.name + ".1")
                os.replace(path, old)
                self.plugin.metrics.inc("dead_letter_rotations")
                self.plugin.warn_limited(
                    "dead-letter-rotation",
                    "dead-letter file reached %d bytes: moved to %s",
                    size,
                    old,
                )
        with open(path, "ab") as f:
            f.write(data)
