"""Delivered positions: per-file progress of acknowledged batches and the checkpoint file.

A :class:`Progress` follows the batches of one file in the order they were emitted.
Each batch carries a :class:`~qframe.message.Delivery`; when it completes, the batch is
marked done and ``committed`` advances over every leading done batch: the committed
offset is the highest one below which every line was acknowledged, whatever order the
acknowledgements came in.

:class:`CheckpointStore` writes the committed offsets as JSON, atomically (temp file,
fsync, rename, fsync of the directory), so a crash leaves the old or the new file.
Each record is checked on load (:func:`check_record`): a record with a field of the
wrong type or out of range (a negative offset, a path that is not a string) is left
out and reported, and its file is read from its start like any file not in the
checkpoint; the other records are kept.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ....storage import atomic_write
from .identity import Identity

__all__ = ["CheckpointStore", "Progress", "check_record"]

VERSION = 1
_HEX = re.compile(r"[0-9a-f]{32}")


class Progress:
    """Emitted-but-unacknowledged batches of one file and the committed offset."""

    __slots__ = ("committed", "identity", "last_seen", "path", "pending", "read_pos", "size")

    def __init__(self, identity: Identity, path: str, committed: int) -> None:
        self.identity = identity
        self.path = path
        self.committed = committed
        self.read_pos = committed  # where reading goes on when the file is reopened
        self.pending: deque[list[Any]] = deque()  # [end_offset, done]
        self.last_seen = 0.0
        self.size = 0  # the file's size when last looked at (tells a loss from a deleted file)

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
            "size": max(self.size, self.committed),
            "seen": int(self.last_seen) // 60 * 60,  # minutes: no rewrite per scan
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Progress:
        """The progress a record describes; ValueError names the first invalid field."""
        problem = check_record(r)
        if problem:
            raise ValueError(problem)
        p = cls(Identity(r["dev"], r["ino"], r["fp"], r["fp_len"]), r["path"], r["offset"])
        p.last_seen = float(r.get("seen", 0))
        p.size = max(r.get("size", 0), p.committed)
        return p


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 63


def check_record(r: Any) -> str:
    """What is wrong with a checkpoint record ("" when nothing is)."""
    if not isinstance(r, dict):
        return f"not an object: {r!r:.80}"
    for key in ("dev", "ino", "offset"):
        if not _count(r.get(key)):
            return f"{key} {r.get(key)!r:.40} is not a whole number >= 0"
    if not _count(r.get("fp_len")) or r["fp_len"] == 0:
        return f"fp_len {r.get('fp_len')!r:.40} is not a whole number > 0"
    if not isinstance(r.get("fp"), str) or not _HEX.fullmatch(r["fp"]):
        return f"fp {r.get('fp')!r:.40} is not a fingerprint"
    if not isinstance(r.get("path"), str) or not r["path"]:
        return f"path {r.get('path')!r:.40} is not a path"
    if "size" in r and not _count(r["size"]):
        return f"size {r['size']!r:.40} is not a whole number >= 0"
    seen = r.get("seen", 0)
    if isinstance(seen, bool) or not isinstance(seen, int | float) or seen != seen:
        return f"seen {seen!r:.40} is not a time"
    return ""


class CheckpointStore:
    """``<data_dir>/checkpoints.json``: ``{"version": 1, "files": [record, …]}``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "checkpoints.json"
        self.last_written: bytes = b""
        self.rejected: list[str] = []  # the records left out by the last load, and why
        self.mtime = 0.0  # when the loaded file was last written (0: no file)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> list[Progress]:
        """Saved progress; a missing file is empty, an unreadable one raises ValueError.

        Records that do not check out are left out (listed in :attr:`rejected`).
        """
        self.rejected = []
        try:
            raw = self.path.read_bytes()
            self.mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            if data.get("version") != VERSION:
                raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
            records = data["files"]
            if not isinstance(records, list):
                raise TypeError(f"files is {type(records).__name__}, not a list")
        except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
            # ValueError: not JSON, not UTF-8, another version; RecursionError: nested deeper
            # than the parser goes (json raises it, not a JSONDecodeError)
            raise ValueError(f"{self.path}: unreadable checkpoint: {exc}") from exc
        out = []
        for i, r in enumerate(records):
            try:
                out.append(Progress.from_record(r))
            except ValueError as exc:
                name = r.get("path") if isinstance(r, dict) else None
                where = f"{name!r:.200}" if isinstance(name, str) else f"#{i}"
                self.rejected.append(f"record {where}: {exc}")
        self.last_written = raw
        return out

    def save(self, progress: list[Progress]) -> bool:
        """Write the records if they changed; return True when the file was written."""
        return self.save_records([p.to_record() for p in progress])

    def save_records(self, records: list[dict[str, Any]]) -> bool:
        """:meth:`save` of records (the workers' of ``workers``, merged)."""
        records = sorted(records, key=lambda r: (r["path"], r["ino"]))
        data = json.dumps({"version": VERSION, "files": records}, indent=1).encode()
        if data == self.last_written:
            return False
        atomic_write(self.path, data)
        self.last_written = data
        return True
