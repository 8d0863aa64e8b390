"""Delivered positions: per-file progress of acknowledged batches and the checkpoint file.

A :class:`Progress` follows the batches of one file in the order they were emitted.
Each batch carries a :class:`~qframe.message.Delivery`; when it completes, the batch is
marked done and ``committed`` advances over every leading done batch: the committed
offset is the highest one below which every line was acknowledged, whatever order the
acknowledgements came in.

:class:`CheckpointStore` writes the committed offsets as JSON, atomically (temp file,
fsync, rename, fsync of the directory), so a crash leaves the old or the new file.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ....storage import atomic_write
from .identity import Identity

__all__ = ["CheckpointStore", "Progress"]

VERSION = 1


class Progress:
    """Emitted-but-unacknowledged batches of one file and the committed offset."""

    __slots__ = ("committed", "identity", "last_seen", "path", "pending", "read_pos")

    def __init__(self, identity: Identity, path: str, committed: int) -> None:
        self.identity = identity
        self.path = path
        self.committed = committed
        self.read_pos = committed  # where reading goes on when the file is reopened
        self.pending: deque[list[Any]] = deque()  # [end_offset, done]
        self.last_seen = 0.0

    def add(self, end: int) -> Callable[[], None]:
        """Register a batch ending at ``end``; return its delivery callback."""
        entry: list[Any] = [end, False]
        self.pending.append(entry)

        def delivered() -> None:
            entry[1] = True
            self._advance()

        return delivered

    def skip_to(self, end: int) -> None:
        """Bytes up to ``end`` produced no message (blank lines): done once those before are."""
        if not self.pending:
            if end > self.committed:
                self.committed = end
            return
        self.pending.append([end, True])

    def abandon(self) -> None:
        """The last batch was not (fully) sent: forget it, so nothing commits past its start."""
        if self.pending and not self.pending[-1][1]:
            self.pending.pop()

    def _advance(self) -> None:
        p = self.pending
        while p and p[0][1]:
            end = p.popleft()[0]
            if end > self.committed:
                self.committed = end

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def to_record(self) -> dict[str, Any]:
        i = self.identity
        return {
            "path": self.path,
            "dev": i.dev,
            "ino": i.ino,
            "fp": i.fp,
            "fp_len": i.fp_len,
            "offset": self.committed,
            "seen": int(self.last_seen) // 60 * 60,  # minutes: no rewrite per scan
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Progress:
        p = cls(
            Identity(int(r["dev"]), int(r["ino"]), str(r["fp"]), int(r["fp_len"])),
            str(r["path"]),
            int(r["offset"]),
        )
        p.last_seen = float(r.get("seen", 0.0))
        return p


class CheckpointStore:
    """``<data_dir>/checkpoints.json``: ``{"version": 1, "files": [record, …]}``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "checkpoints.json"
        self.last_written: bytes = b""

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> list[Progress]:
        """Saved progress; a missing file is empty, an unreadable one raises ValueError."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            if data.get("version") != VERSION:
                raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
            out = [Progress.from_record(r) for r in data["files"]]
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.path}: unreadable checkpoint: {exc}") from exc
        self.last_written = raw
        return out

    def save(self, progress: list[Progress]) -> bool:
        """Write the records if they changed; return True when the file was written."""
        records = sorted((p.to_record() for p in progress), key=lambda r: (r["path"], r["ino"]))
        data = json.dumps({"version": VERSION, "files": records}, indent=1).encode()
        if data == self.last_written:
            return False
        atomic_write(self.path, data)
        self.last_written = data
        return True
