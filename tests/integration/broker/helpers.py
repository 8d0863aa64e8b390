"""Pipelines of the broker tests: qframe's nats handler and collector around one stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def loop(url: str, data_dir: Path, stream: str, **link: Any) -> dict[str, Any]:
    """``src`` (a list collector, acks kept) → nats handler ``out`` → ``stream`` → nats
    collector ``in`` → capture ``cap``; ``link``: options both nats plugins get."""
    low = stream.lower()
    return {
        "tick": "50ms",
        "data-dir": str(data_dir),
        "collector": {
            "src": {"kind": "list", "ack": True, "linger": True},
            "in": {"kind": "nats", "url": url, "stream": stream, **link},
        },
        "handler": {
            "out": {
                "kind": "nats",
                "inputs": ["src"],
                "url": url,
                "stream": stream,
                "subject": f"{low}.logs",
                "stream-subjects": [f"{low}.>"],
                **link,
            },
            "cap": {"kind": "capture", "inputs": ["in"]},
        },
    }


def sender(url: str, data_dir: Path, **link: Any) -> dict[str, Any]:
    """A list collector into the nats handler ``out`` alone (``link``: its options)."""
    return {
        "data-dir": str(data_dir),
        "collector": {"src": {"kind": "list", "linger": True}},
        "handler": {"out": {"kind": "nats", "inputs": ["src"], "url": url, **link}},
    }
