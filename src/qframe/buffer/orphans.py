"""Disk buffers no configured handler uses (a handler renamed or removed): warned about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["orphaned_buffers"]


def orphaned_buffers(data_dir: str | Path, instances: list[Any]) -> list[str]:
    """A warning per ``<data-dir>/handler.<name>/buffer`` that holds segments and whose
    handler is not configured with ``buffer: {type: disk}``."""
    root = Path(data_dir)
    used = {
        inst.name
        for inst in instances
        if inst.type == "handler"
        and getattr(getattr(inst.options, "buffer", None), "type", "memory") == "disk"
    }
    out = []
    try:
        dirs = sorted(root.glob("handler.*/buffer"))
    except OSError:
        return out
    for d in dirs:
        name = d.parent.name.removeprefix("handler.")
        if name in used:
            continue
        try:
            segs = [p.stat().st_size for p in d.glob("*.seg")]
        except OSError:
            continue
        if segs:
            out.append(
                f"{d}: a disk buffer no handler uses ({sum(segs)} bytes in {len(segs)} "
                f"segments): configure handler {name!r} with buffer type disk again to "
                "send it, or delete the directory"
            )
    return out
