"""Log positions per container: what was delivered, what to skip on resume, checkpoints.

A position is ``(ts_ns, count)``: the newest engine timestamp delivered and how many
lines with exactly that timestamp were delivered.  The engine's ``since`` is a time,
and Podman's log timestamps have one-second precision, so several lines share a
timestamp: on resume we ask for ``since`` = that second and skip every line older
than ``ts_ns`` and the first ``count`` lines stamped exactly ``ts_ns`` (the engine
replays them in the same order).  A line's ``seq`` (its index among lines with the
same timestamp) makes a deterministic message id: a replay after a crash produces
the same ids, so a destination can de-duplicate.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import orjson

from ..storage import atomic_write

__all__ = ["AckTracker", "CheckpointFile", "LineCounter", "Position", "first_position"]


class Position(NamedTuple):
    ts_ns: int = 0
    count: int = 0

    def since(self) -> int | None:
        """The ``since`` (whole seconds, rounded down) to resume from; None: from the start."""
        return self.ts_ns // 1_000_000_000 if self.ts_ns else None


def first_position(
    entry: Position | None,
    initial: bool,
    from_beginning: bool,
    started_s: int,
    lost: bool = False,
    written_s: int | None = None,
) -> Position:
    """Where the first read of a container in this run starts.

    ``entry``: its checkpoint entry; ``initial``: it was running when the collector
    started; ``lost``: the checkpoint existed but had no usable entry for it (the file
    unreadable, or its entry rejected); ``written_s``: when the (readable) checkpoint was
    last written.  Without an entry, a container running at start is read from the
    collector's start second ``started_s`` (what it wrote before qframe ever ran is left
    out), unless ``from_beginning`` -- or unless its entry was lost: then qframe did run
    before, and what the container wrote while qframe was down would be a silent gap, so
    it is read from its first line (the ids are the same: at least once).  A container a
    readable checkpoint does not know (it started while qframe was down: the collector
    puts every container it reads in the checkpoint from its first read on, with the
    position that read starts from) is read from the second the checkpoint was last
    written, if that is earlier: none of its lines since then was acknowledged.
    """
    if entry is not None:
        return entry
    if initial and not from_beginning and not lost:
        if written_s is not None:
            started_s = min(started_s, written_s)
        return Position(started_s * 1_000_000_000, 0)
    return Position()


class LineCounter:
    """Assigns each line its ``seq`` and skips what a previous run already delivered."""

    __slots__ = ("_counts", "_skip_left", "max_ts", "resume")

    def __init__(self, resume: Position = Position()) -> None:
        self.resume = resume
        self._skip_left = resume.count
        self.max_ts = resume.ts_ns
        self._counts: dict[int, int] = {resume.ts_ns: resume.count} if resume.ts_ns else {}

    def accept(self, ts_ns: int) -> int:
        """The line's seq (≥ 0), or -1 when it was delivered before (skip it)."""
        r = self.resume.ts_ns
        if r:
            if ts_ns < r:
                return -1
            if ts_ns == r and self._skip_left > 0:
                self._skip_left -= 1
                return -1
        counts = self._counts
        seq = counts.get(ts_ns, 0)
        counts[ts_ns] = seq + 1
        if ts_ns > self.max_ts:
            self.max_ts = ts_ns
            if len(counts) > 64:  # keep the counters of the last few timestamps only
                for k in sorted(counts)[:-16]:
                    del counts[k]
        return seq

    @property
    def position(self) -> Position:
        return Position(self.max_ts, self._counts.get(self.max_ts, 0))


class AckTracker:
    """Positions of emitted batches in order; ``committed`` advances over acknowledged ones.

    ``track(pos)`` returns the callback for the batch's
    :class:`~qframe.message.Delivery`; acknowledgements may arrive out of order,
    ``committed`` only moves past a batch once every earlier batch is acknowledged too.
    """

    def __init__(
        self, committed: Position = Position(), on_commit: Callable[[], None] | None = None
    ) -> None:
        self.committed = committed
        self._pending: deque[list[object]] = deque()
        self._on_commit = on_commit

    def __len__(self) -> int:
        return len(self._pending)

    def track(self, pos: Position) -> Callable[[], None]:
        entry: list[object] = [pos, False]
        self._pending.append(entry)

        def done() -> None:
            entry[1] = True
            moved = False
            q = self._pending
            while q and q[0][1]:
                p = q.popleft()[0]
                assert isinstance(p, Position)
                if p > self.committed:
                    self.committed = p
                moved = True
            if moved and self._on_commit is not None:
                self._on_commit()

        return done


def _whole(v: object, low: int) -> bool:
    return type(v) is int and low <= v < 1 << 63


class CheckpointFile:
    """``{container id: Position}`` in one JSON file, replaced atomically.

    ``{"ts": 0, "n": 0}`` (:class:`Position`'s default) says that nothing of the container
    was delivered yet and that it is read from its first line.  Any other entry that is
    not a position (a timestamp not a whole number > 0, a count not one >= 0: what this
    class never writes) is left out on load and listed in
    :attr:`rejected`: a negative count would make the lines it does not cover be skipped.
    A file that is not one this class writes (cut short, not JSON, another version, no
    ``containers`` object) raises ValueError.  :meth:`lost` says which containers the
    last load had an entry for that it could not use.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected: list[str] = []  # the entries left out by the last load, and why
        self.unreadable = False  # the last load found a file it could not read
        self.written_s: int | None = None  # when the loaded file was written (whole seconds)
        self._lost: set[str] = set()  # the containers of the entries left out

    def lost(self, cid: str) -> bool:
        """The last load found the file unreadable, or the container's entry rejected."""
        return self.unreadable or cid in self._lost

    def load(self) -> dict[str, Position]:
        self.rejected = []
        self._lost = set()
        self.unreadable = False
        self.written_s = None
        try:
            raw = orjson.loads(self.path.read_bytes())
            if not isinstance(raw, dict) or raw.get("version") != 1:
                v = raw.get("version") if isinstance(raw, dict) else None
                raise ValueError(f"not a version 1 checkpoint (version {v!r:.40})")
            items = raw.get("containers")
            if not isinstance(items, dict):
                raise ValueError(f"containers is {type(items).__name__}, not an object")
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:  # (orjson.JSONDecodeError is a ValueError)
            self.unreadable = True
            raise ValueError(f"unreadable checkpoint {self.path}: {exc}") from exc
        updated = raw.get("updated")
        if type(updated) in (int, float) and 0 < updated < 1 << 40:  # (not NaN, not bool)
            self.written_s = int(updated)
        out: dict[str, Position] = {}
        for cid, v in items.items():
            ts, n = (v.get("ts"), v.get("n")) if isinstance(v, dict) else (None, None)
            if _whole(ts, 0) and _whole(n, 0) and (ts or not n):  # (0, 0): from the start
                out[cid] = Position(ts, n)
            else:
                self._lost.add(cid)
                self.rejected.append(f"container {cid:.80}: {v!r:.80} is not a position")
        return out

    def save(self, positions: dict[str, Position]) -> None:
        now = time.time()
        data = {
            "version": 1,
            "updated": now,
            "containers": {cid: {"ts": p.ts_ns, "n": p.count} for cid, p in positions.items()},
        }
        atomic_write(self.path, orjson.dumps(data))
