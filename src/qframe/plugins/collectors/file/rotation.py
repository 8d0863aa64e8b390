"""Rotated generations of a watched file, found again after rotations nobody saw.

``logrotate`` renames ``app.log`` to ``app.log.1`` (``app.log.1`` to ``app.log.2``, …) or
to a date suffix (``app.log-20261205``), maybe compresses the older ones, and creates a
new ``app.log``.  When that happens more than once while qframe is down (or between
two looks at runtime), the checkpointed file is no longer at the watched path and the
generations written after it were never seen at all.  :func:`recover` walks the
directory: every file named like a rotated form of the watched path is identified by
device + inode + fingerprint against the checkpoint records, then

- a record's file found again (same inode, or a copy with its first bytes) is read
  from the record's offset to its end;
- every unknown generation modified since qframe last looked (``since``) is read
  from 0, oldest first (mtime, then inode), after the recovered file;
- the current file at the watched path is read after them (its tailer waits);
- what cannot be read any more is counted and logged: a record's file that only
  survives compressed (``files_lost{reason="compressed"}``; its unread lines are
  counted in ``dropped{reason="rotated_away"}``, its bytes in ``lost_bytes``), or is
  gone (``reason="deleted"``: counted, with ``lost_bytes``, when the checkpoint knew
  of bytes not read yet — a deleted file's lines cannot be counted), and unknown
  generations that are compressed already.
"""

from __future__ import annotations

import asyncio
import bz2
import gzip
import lzma
import os
import re
import stat
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .identity import read_head

if TYPE_CHECKING:
    from .checkpoint import Progress
    from .collector import FileCollector
    from .tailer import Tailer

__all__ = ["COMPRESSED", "MARGIN", "Generation", "find_copy", "recover", "siblings"]

COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z")
MARGIN = 1.0  # seconds: file times come from a coarser clock than time.time()

# what follows the watched name in a rotated one: a separator, then anything with a digit
_SUFFIX = re.compile(r"[.\-_][^/]*\d[^/]*")
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass
class Generation:
    """A file next to the watched one whose name is a rotated form of it."""

    path: str
    key: tuple[int, int]
    size: int  # bytes of text (compressed: uncompressed size; -1 when unknown)
    mtime: float
    head: bytes  # first bytes of its text (compressed: decompressed)
    fd: int = -1  # open descriptor (plain files only)

    @property
    def compressed(self) -> bool:
        return self.path.endswith(COMPRESSED)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def siblings(path: str, head_bytes: int, skip: set[tuple[int, int]]) -> list[Generation]:
    """The rotated forms of ``path`` in its directory, plain ones open, ``skip`` left out."""
    d, base = os.path.split(path)
    try:
        names = os.listdir(d or ".")
    except OSError:
        return []
    out = []
    for name in names:
        if not name.startswith(base) or not _SUFFIX.fullmatch(name[len(base) :]):
            continue
        g = _generation(os.path.join(d, name), head_bytes, skip)
        if g is not None:
            out.append(g)
    return out


def _generation(full: str, head_bytes: int, skip: set[tuple[int, int]]) -> Generation | None:
    if full.endswith(COMPRESSED):
        try:
            st = os.stat(full)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        head, size = _compressed_head(full, head_bytes)
        return Generation(full, (st.st_dev, st.st_ino), size, st.st_mtime, head)
    try:
        fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        key = (st.st_dev, st.st_ino)
        if stat.S_ISREG(st.st_mode) and key not in skip:
            return Generation(full, key, st.st_size, st.st_mtime, read_head(fd, head_bytes), fd)
    except OSError:
        pass
    os.close(fd)
    return None


def _compressed_head(path: str, n: int) -> tuple[bytes, int]:
    """The first ``n`` bytes of a compressed file's text and its text size (-1: unknown).

    gzip keeps the size (mod 4 GiB) in its last 4 bytes; the other formats are not
    decompressed whole just to count (their size stays unknown).  A format without a
    decompressor in the standard library gives no head: it cannot be identified.
    """
    opener = next((o for ext, o in _OPENERS.items() if path.endswith(ext)), None)
    if opener is None:
        return b"", -1
    try:
        with opener(path, "rb") as f:
            head = f.read(n)
        size = -1
        if path.endswith(".gz"):
            with open(path, "rb") as raw:
                raw.seek(-4, os.SEEK_END)
                size = int.from_bytes(raw.read(4), "little")
        return head, size
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        return b"", -1


def recover(coll: FileCollector, live: str, since: float, seen: set[tuple[int, int]]) -> int:
    """Find the generations of the watched path ``live``; return how many are read.

    ``since``: when qframe last knew what was at ``live`` (the checkpoint's time at
    start, the previous scan at runtime); ``seen``: the files the globs found now.
    """
    progress = list(coll.progress.values())
    n = max([coll.options.fingerprint_bytes, *(p.identity.fp_len for p in progress)])
    gens = siblings(live, n, set(coll.tailers))
    try:
        return _recover(coll, live, since, seen, progress, gens)
    finally:
        for g in gens:
            g.close()


def _recover(
    coll: FileCollector,
    live: str,
    since: float,
    seen: set[tuple[int, int]],
    progress: list[Progress],
    gens: list[Generation],
) -> int:
    claimed: dict[str, tuple[Progress, Generation]] = {}  # generation path -> its record
    by_key = {g.key: g for g in gens if g.fd >= 0}
    for p in progress:  # a record's own file, renamed
        i = p.identity
        g = by_key.get((i.dev, i.ino))
        if g is not None and g.path not in claimed and i.matches(g.head):
            claimed[g.path] = (p, g)
    found = {id(p) for p, _ in claimed.values()}
    mine = [p for p in progress if p.path == live and id(p) not in found]
    for p in mine:  # a copy of its content (copytruncate), maybe compressed
        i = p.identity
        if (i.dev, i.ino) in seen and (i.dev, i.ino) not in coll.tailers:
            continue  # where the globs find it, not open (yet): discovery's business
        # (a copy may end before the offset: lines written between logrotate's copy and
        # its truncation were read from the original)
        copies = [g for g in gens if g.path not in claimed and i.matches(g.head)]
        if copies:
            g = max(copies, key=lambda g: (not g.compressed, g.mtime))
            claimed[g.path] = (p, g)
            found.add(id(p))
    chain: list[tuple[Generation, Progress | None, int]] = []
    for p, g in claimed.values():
        if coll.is_open(p):
            continue  # its descriptor still reads the content
        if g.compressed:
            if p.path == live and (g.size < 0 or g.size > p.read_pos):
                what = f"{p.path} (inode {p.identity.ino}) was compressed to {g.path}"
                _lost_compressed(coll, g.path, p.read_pos, what)
                coll.retire(p)
        elif g.size > p.read_pos:
            chain.append((g, p, p.read_pos))
        elif g.size < p.read_pos and g.key == (p.identity.dev, p.identity.ino):
            # its own file, shorter than the offset: not the content the record knew
            coll.log.info(
                "%s is shorter (%d) than its checkpoint (%d): reading it from its start",
                g.path,
                g.size,
                p.read_pos,
            )
            coll.retire(p)
            chain.append((g, None, 0))
    for p in mine:
        i = p.identity
        key = (i.dev, i.ino)
        if id(p) in found or coll.is_open(p) or (key in seen and key not in coll.tailers):
            continue
        unread = p.size - p.read_pos
        if unread > 0:
            coll.metrics.inc("files_lost", reason="deleted")
            coll.metrics.inc("lost_bytes", unread, reason="deleted")
            coll.log_loss(
                f"{p.path} (inode {p.identity.ino}) was deleted before it was read to its "
                f"end: at least {unread} bytes after offset {p.read_pos} lost"
            )
        else:
            coll.log.debug("%s (read to its end at %d) is gone", live, p.read_pos)
        coll.retire(p)
    for g in gens:
        if g.path in claimed or g.mtime < since or g.size == 0:
            continue
        if g.compressed:  # a generation nobody read, compressed already
            _lost_compressed(coll, g.path, 0, f"{g.path} was rotated and compressed unread")
        else:
            chain.append((g, None, 0))
    chain.sort(key=lambda c: (c[0].mtime, c[0].key[1]))
    return _launch(coll, live, chain)


def _launch(
    coll: FileCollector, live: str, chain: list[tuple[Generation, Progress | None, int]]
) -> int:
    """Read the generations one after the other, then the file at ``live``."""
    last: Tailer | None = None
    for g, p, start in chain:
        fd, g.fd = g.fd, -1
        coll.log.info(
            "%s was rotated while not watched: reading %s from %d%s",
            live,
            g.path,
            start,
            "" if p is None else " (checkpoint)",
        )
        coll.metrics.inc("files", event="recovered")
        try:
            t = coll.launch(g.path, fd, g.key, p, start, home=live)
        except OSError as exc:
            os.close(fd)
            coll.problem("open_error", f"cannot read {g.path}: {exc}")
            continue
        if last is not None:
            t.gate = last.caught_up
        last = t
    current = coll.tailer_at(live)
    if last is not None and current is not None and not current.started:
        current.gate = last.caught_up
    return len(chain)


def _lost_compressed(coll: FileCollector, path: str, offset: int, what: str) -> None:
    """Count what a compressed generation holds after ``offset``: lines, bytes, the file.

    The lines are counted by decompressing it once, in a thread (it may be large):
    ``dropped{reason="rotated_away"}`` then says how many lines were never read.
    """
    coll.metrics.inc("files_lost", reason="compressed")

    async def count() -> None:
        try:
            lines, size = await asyncio.to_thread(_count_after, path, offset)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            coll.log_loss(f"{what} before it was read to its end: lines after {offset} lost")
            coll.log.debug("cannot count the lines of %s: %s", path, exc)
            return
        coll.metrics.drop("rotated_away", lines)
        coll.metrics.inc("lost_bytes", size - offset, reason="compressed")
        coll.log_loss(
            f"{what} before it was read to its end: {lines} lines "
            f"({size - offset} bytes) after offset {offset} lost"
        )

    coll.spawn(count(), f"count {path}")


def _count_after(path: str, offset: int) -> tuple[int, int]:
    """(lines, text size) of a compressed file after byte ``offset`` of its text."""
    opener = next((o for ext, o in _OPENERS.items() if path.endswith(ext)), None)
    if opener is None:
        raise OSError(f"no decompressor for {path}")
    lines = pos = 0
    last = b"\n"
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            end = pos + len(chunk)
            if end > offset:
                part = chunk[max(0, offset - pos) :]
                lines += part.count(b"\n")
                last = part[-1:]
            pos = end
    if last != b"\n":
        lines += 1  # an unterminated last line
    return lines, max(pos, offset)


def find_copy(
    coll: FileCollector, p: Progress, path: str, size: int
) -> tuple[str, int, tuple[int, int]] | None:
    """The rotated form of ``p``'s file: (path, open fd, (dev, ino)) or None.

    A file next to ``path`` whose name starts with its name (not compressed, not open
    here) with more than ``size`` bytes and first bytes matching the fingerprint;
    the same inode (renamed) is preferred, then the newest.
    """
    d, base = os.path.split(path)
    try:
        names = os.listdir(d or ".")
    except OSError:
        return None
    best: tuple[tuple[bool, float], str, int, tuple[int, int]] | None = None
    for name in names:
        if not name.startswith(base) or name.endswith(COMPRESSED):
            continue
        full = os.path.join(d, name)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            ok = (
                stat.S_ISREG(st.st_mode)
                and key not in coll.tailers
                and st.st_size > size
                and p.identity.matches(read_head(fd, p.identity.fp_len))
            )
        except OSError:
            ok = False
        rank = (key == (p.identity.dev, p.identity.ino), st.st_mtime) if ok else None
        if rank is not None and (best is None or rank > best[0]):
            if best is not None:
                os.close(best[2])
            best = (rank, full, fd, key)
        else:
            os.close(fd)
    return None if best is None else (best[1], best[2], best[3])
