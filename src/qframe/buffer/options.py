"""The ``buffer`` option of the delivering handlers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..options import Bytes, Duration, to_kebab

__all__ = ["BufferOptions"]


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
