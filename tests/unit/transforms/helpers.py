"""Run one filter over messages in a real pipeline (qframe.testing.Harness)."""

from __future__ import annotations

from typing import Any

from qframe.message import Message
from qframe.testing import Harness


async def run_filter(
    kind: str, options: dict[str, Any], messages: list[Any]
) -> tuple[list[Message], Harness]:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": messages}},
        "filter": {"f": {"kind": kind, "inputs": ["src"], **options}},
        "handler": {"out": {"kind": "capture", "inputs": ["f"], "source-success": "any"}},
    }
    async with Harness(cfg) as h:
        await h.run_to_completion()
    return h.captured("out"), h
