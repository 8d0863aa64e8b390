"""Helpers for the handler tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def es_config(url: str | list[str], data_dir: Path, **handler: Any) -> dict[str, Any]:
    """A list collector (acks kept) into an elasticsearch handler at ``url``."""
    return {
        "tick": "0.1s",
        "data-dir": str(data_dir),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {
            "es": {
                "kind": "elasticsearch",
                "inputs": ["src"],
                "url": url,
                "retry-initial": "20ms",
                "retry-max": "200ms",
                "timeout": "5s",
                **handler,
            }
        },
    }
