"""Helpers for the docker collector tests: pipelines against the session's podman service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qframe.message import Message
from qframe.testing import wait_until

COUNTER = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"


def pipeline(
    podman_host: str,
    data_dir: Path,
    collectors: dict[str, dict[str, Any]],
    filters: dict[str, dict[str, Any]] | None = None,
    capture_inputs: list[str] | None = None,
) -> dict[str, Any]:
    """A config: the given collectors (docker-host set) → optional filters → capture ``out``."""
    cols = {name: {"docker-host": podman_host, **c} for name, c in collectors.items()}
    return {
        "data-dir": str(data_dir),
        "tick": "200ms",
        "collector": cols,
        "filter": filters or {},
        "handler": {"out": {"kind": "capture", "inputs": capture_inputs or list(cols)}},
    }


def of(msgs: list[Message], name: str, kind: str = "") -> list[Message]:
    """The messages about the container named ``name`` (of one kind)."""
    return [
        m
        for m in msgs
        if m.container is not None and m.container.name == name and (not kind or m.kind == kind)
    ]


def numbers(msgs: list[Message], name: str) -> list[int]:
    """The integers a COUNTER container printed, in the order they arrived."""
    return [int(m.message) for m in of(msgs, name, "log") if m.message.isdigit()]


def podman_count(podman: Any, name: str) -> int:
    """How many COUNTER lines the engine has stored for the container."""
    return len(podman.podman("logs", name).split())


async def wait_or_explain(
    h: Any, pred: Callable[[], bool], timeout: float = 20.0, what: str = ""
) -> None:
    """``wait_until``, but a timeout says what each docker plugin saw and did."""
    try:
        await wait_until(pred, timeout, what=what)
    except AssertionError as exc:
        lines = [str(exc)]
        for node in h.pipeline.nodes.values():
            p = node.plugin
            lines.append(f"{node.name}: {p.metrics.snapshot()} counters={p.metrics.counters}")
            streams = getattr(p, "streams", None)
            if streams is not None:
                lines.append(f"  streams: {[c[:12] for c in streams.tasks]}")
        got = getattr(h.plugin("out"), "messages", [])
        lines.append(f"received: {[(m.kind, m.message[:30]) for m in got][-30:]}")
        raise AssertionError("\n".join(lines)) from None
