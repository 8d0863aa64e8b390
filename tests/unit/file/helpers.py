"""Shared helpers of the file collector's tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from qframe.message import Message
from qframe.plugin import Handler
from qframe.testing import Harness


class HoldHandler(Handler):
    """Keeps messages without acknowledging them (the test acks with ``qframe.plugin.ack``)."""

    manual_ack: ClassVar[bool] = True

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.messages: list[Message] = []

    async def handle(self, batch: list[Message]) -> None:
        self.messages.extend(batch)


def config(
    tmp_path: Path, handler: str = "capture", tick: str = "50ms", **opts: Any
) -> dict[str, Any]:
    coll: dict[str, Any] = {"kind": "file", "poll-interval": "20ms", "scan-interval": "100ms"}
    coll.update({k.replace("_", "-"): v for k, v in opts.items()})
    return {
        "tick": tick,
        "data-dir": str(tmp_path / "data"),
        "collector": {"files": coll},
        "handler": {"out": {"kind": handler, "inputs": ["files"]}},
    }


def harness(tmp_path: Path, handler: str = "capture", tick: str = "50ms", **opts: Any) -> Harness:
    return Harness(
        config(tmp_path, handler, tick, **opts), extra={("handler", "hold"): HoldHandler}
    )


def checkpoint(tmp_path: Path) -> dict[str, int]:
    """path -> committed offset, from the collector's checkpoint file."""
    f = tmp_path / "data" / "collector.files" / "checkpoints.json"
    if not f.exists():
        return {}
    return {r["path"]: r["offset"] for r in json.loads(f.read_text())["files"]}


def append(path: Path, data: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)
