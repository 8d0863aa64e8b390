"""The ``buffer`` option of the handlers, and the metrics a disk buffer exports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..options import Bytes, Duration, to_kebab
from ..telemetry import MetricSpec

__all__ = ["METRICS", "BufferOptions"]

#: the metrics of a handler with a disk buffer (here, not in queue.py: a handler declares
#: them without loading the buffer's code unless it uses one)
METRICS = (
    MetricSpec("disk_buffer_events", "gauge", "messages held in the disk buffer"),
    MetricSpec("disk_buffer_bytes", "gauge", "bytes of the disk buffer's segment files"),
    MetricSpec("disk_buffer_written", "counter", "messages written to the disk buffer"),
    MetricSpec(
        "disk_buffer_corrupt", "counter", "damaged records skipped in the disk buffer (lost)"
    ),
    MetricSpec("disk_buffer_errors", "counter", "failed writes or fsyncs, by reason"),
)


class BufferOptions(BaseModel):
    """``{type: memory|disk, max-bytes, when-full: block|drop-newest, fsync-interval}``."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_kebab, populate_by_name=True)

    type: Literal["memory", "disk"] = Field(
        "memory", description="memory (the default) or disk (survives crashes and restarts)"
    )
    max_bytes: Bytes = Field(2**30, ge=2**16, description="disk space the buffer may take")
    when_full: Literal["block", "drop-newest"] = Field(
        "block",
        description="block (backpressure) or drop-newest (counted) when max-bytes is reached",
    )
    fsync_interval: Duration = Field(
        0.5, gt=0, le=60, description="group fsync period; messages are acknowledged after it"
    )
