"""The ``file`` collector: discovery, the open tailers, and checkpoints of delivered lines."""

from __future__ import annotations

import asyncio
import fnmatch
import glob
import logging
import os
import socket
import stat
import time
from typing import Any

from ....plugin import Collector
from .checkpoint import CheckpointStore, Progress
from .identity import Identity, read_head
from .options import FileOptions
from .tailer import COMPRESSED, Tailer
from .watch import Watcher

__all__ = ["FileCollector"]

FORGET_AFTER = 24 * 3600.0  # a record of a file no longer found is kept this long
LOG_EVERY = 10.0  # at most one log line per problem kind in this many seconds


class FileCollector(Collector):
    """Tails files matching globs; survives rotation, truncation and restarts without loss.

    **Discovery.** ``path`` (globs, ``**`` allowed) minus ``exclude`` is expanded at
    start and every ``scan-interval`` (and at once when an open file is renamed or
    deleted).  Files present at the very first start (no checkpoint yet) are read from
    ``start-position`` (``end``: from the end of their last complete line); every file
    found later, or not in the checkpoint, is read from its start.  inotify (through
    libc, where available; ``inotify: false`` turns it off) wakes discovery when a file
    appears and a tailer when its file is written; polling stays as the safety net (an
    idle file is checked every ``poll-interval``).

    **Identity.** device + inode + a hash of the first ``fingerprint-bytes`` bytes: a
    file that reuses an inode number is a new file.  Rename-and-create: the renamed
    file is read to its end (its descriptor stays open until ``close-inactive``).
    Copytruncate: a size below the read position or a changed fingerprint restarts
    reading at 0, after the lines not yet read are taken from the copy (same
    directory, name starting with the file's name, first bytes matching).  Globs should leave out rotated copies (``exclude: ["*.1", "*.gz"]``),
    otherwise a copy is a new file and is read again.

    **Delivery.** Every batch carries a delivery token; the checkpoint
    (``<data-dir>/collector.<name>/checkpoints.json``, written atomically on tick and
    at stop) holds per file the offset below which every line was acknowledged by
    every handler.  After a crash reading resumes there: lines may repeat, none is
    lost, and as ids are deterministic a de-duplicating destination keeps one copy.

    **Emits** one ``log`` message per line (or per multiline group): ``message`` the
    text (``encoding``, invalid bytes replaced and counted), ``id``
    ``<identity hash>-<offset>``, ``host``, ``fields.path``, ``fields.offset`` (byte
    offset of the line), ``fields.lines`` (multiline groups of more than one line).
    Lines over ``max-line-bytes`` are cut and tagged ``_truncated``; blank lines are
    skipped.  Counters: ``qframe_files_total{event=opened|closed|renamed|deleted|truncated}``,
    (and ``copy_read``, ``recovered``: lines taken from a rotated copy), ``qframe_bytes_total``,
    ``qframe_truncated_total``, ``qframe_invalid_text_total``,
    ``qframe_rejected_total{reason=…}`` (files that cannot be opened or read: health
    ``degraded`` while any matching file cannot be opened); gauges ``qframe_files_open``,
    ``qframe_lag_bytes`` (bytes written to the open files and not read yet, on tick).

    Example::

        {"@timestamp": "2026-11-26T05:00:00.123456Z", "id": "9f86d081884c7d65-5120",
         "kind": "log", "message": "127.0.0.1 - - [26/Nov/2026:05:00:00 +0000] \\"GET / …",
         "level": 6, "host": "web1", "source_path": ["nginx"],
         "fields": {"path": "/var/log/nginx/access.log", "offset": 5120}}
    """

    Options = FileOptions
    options: FileOptions

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.host = socket.gethostname()
        self.tailers: dict[tuple[int, int], Tailer] = {}
        self.progress: dict[str, Progress] = {}  # identity uid -> progress
        self._store: CheckpointStore | None = None
        self._first_start = True
        self._scans = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._by_path: dict[str, Tailer] = {}
        self._unopened = 0
        self._watcher: Watcher | None = None

    # -- life ------------------------------------------------------------------------
    async def start(self) -> None:
        self._store = CheckpointStore(self.data_dir)
        self._first_start = not self._store.exists()
        try:
            loaded = self._store.load()
        except ValueError as exc:
            self.log.error("%s; starting without it", exc)
            self.metrics.inc("rejected", reason="checkpoint")
            loaded = []
            self._first_start = False  # we did run before: do not skip anything
        for p in loaded:
            self.progress[p.identity.uid] = p

    async def run(self) -> None:
        interval = self.options.scan_interval
        if self._watcher is None and self.options.inotify:
            w = Watcher(self.wake_scan, self._written, self._wake_all)
            if w.start():
                self._watcher = w
                for d in self._static_dirs():
                    w.watch(d)
            else:
                self.log.info("inotify is not available: discovery and reading poll")
        while True:
            try:
                self._scan()
            except OSError as exc:
                self.problem("scan_error", f"scan failed: {exc}")
            if self._scans == 0 and self._first_start:
                # the positions chosen at the very first start are the checkpoint now: a
                # crash before the first tick must not make the next start a first start
                self.save_checkpoint()
            self._scans += 1
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass

    async def on_tick(self) -> None:
        self.save_checkpoint()
        lag = 0
        for t in self.tailers.values():
            try:
                lag += max(0, os.fstat(t.fd).st_size - t.pos)
            except OSError:
                pass
        self.metrics.set_gauge("lag_bytes", lag)

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        tasks = [t.task for t in self.tailers.values() if t.task is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for t in list(self.tailers.values()):
            self.closed(t)
        deadline = time.monotonic() + self.options.drain_timeout
        while time.monotonic() < deadline:
            if not any(p.in_flight for p in self.progress.values()):
                break
            await asyncio.sleep(0.02)
        waiting = sum(p.in_flight for p in self.progress.values())
        if waiting:
            self.log.warning(
                "stopping with %d batches unacknowledged: they will be re-read", waiting
            )
        self.save_checkpoint()

    # -- checkpoints -------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        if self._store is None:
            return
        try:
            self._store.save(list(self.progress.values()))
        except OSError as exc:
            self.problem("checkpoint_error", f"cannot write checkpoint: {exc}")

    def register(self, ident: Identity, path: str, start: int) -> Progress:
        """A tailer learned the identity of its file (first bytes read)."""
        p = self.progress.get(ident.uid)
        if p is None:
            p = Progress(ident, path, start)
            self.progress[ident.uid] = p
        p.path = path
        p.last_seen = time.time()
        return p

    def retire(self, p: Progress) -> None:
        """The content behind ``p`` is gone (truncated): no checkpoint record any more."""
        self.progress.pop(p.identity.uid, None)

    # -- discovery ------------------------------------------------------------------------
    def wake_scan(self) -> None:
        self._wake.set()

    def _written(self, path: str) -> None:
        t = self._by_path.get(path)
        if t is not None:
            t.wake()

    def _wake_all(self) -> None:
        self._wake.set()
        for t in self.tailers.values():
            t.wake()

    def moved(self, t: Tailer, path: str) -> None:
        """A tailer's file is now known under ``path``."""
        if self._by_path.get(t.path) is t:
            del self._by_path[t.path]
        self._by_path[path] = t
        if self._watcher is not None:
            self._watcher.watch(os.path.dirname(path) or ".")

    def _static_dirs(self) -> list[str]:
        """The deepest directory of each glob that has no wildcard in it."""
        out = []
        for pattern in self.options.path:
            parts = os.path.expanduser(pattern).split(os.sep)
            fixed = []
            for part in parts[:-1]:
                if any(c in part for c in "*?["):
                    break
                fixed.append(part)
            d = os.sep.join(fixed) or ("/" if pattern.startswith("/") else ".")
            if os.path.isdir(d):
                out.append(d)
        return out

    def _glob(self) -> list[str]:
        o = self.options
        found: set[str] = set()
        for pattern in o.path:
            for p in glob.iglob(os.path.expanduser(pattern), recursive=True):
                if o.exclude and any(
                    fnmatch.fnmatch(p, x) or fnmatch.fnmatch(os.path.basename(p), x)
                    for x in o.exclude
                ):
                    continue
                found.add(p)
        return sorted(found)

    def _scan(self) -> None:
        first = self._scans == 0
        self._unopened = 0
        now = time.time()
        seen: set[tuple[int, int]] = set()
        for path in self._glob():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = (st.st_dev, st.st_ino)
            seen.add(key)
            t = self.tailers.get(key)
            if t is not None:
                t.attach(path)
                continue
            if self._stopping:
                continue
            self._open(path, key, st.st_size, first)
        if first and not self._first_start and not self._stopping:
            self._recover()
        for p in list(self.progress.values()):
            i = p.identity
            if (i.dev, i.ino) in seen:
                p.last_seen = now
            elif (
                not p.in_flight
                and (i.dev, i.ino) not in self.tailers
                and now - p.last_seen > FORGET_AFTER
            ):
                del self.progress[i.uid]
        self.metrics.set_gauge("files_open", len(self.tailers))
        if self._unopened:
            self.set_health("degraded", f"{self._unopened} matching files cannot be opened")
        else:
            self.set_health("ok")

    def _open(self, path: str, key: tuple[int, int], size: int, first: bool) -> None:
        o = self.options
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            self._unopened += 1
            reason = "permission" if isinstance(exc, PermissionError) else "open_error"
            self.problem(reason, f"cannot open {path}: {exc}")
            return
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            if key in self.tailers:  # replaced between stat and open, and already open
                os.close(fd)
                return
            head = read_head(fd, o.fingerprint_bytes)
            prog = None
            for p in self.progress.values():
                i = p.identity
                if (i.dev, i.ino) == key and i.matches(head):
                    prog = p
                    break
            if prog is not None and st.st_size >= prog.read_pos:
                start = prog.read_pos
                prog.path = path
                prog.last_seen = time.time()
            else:
                if prog is not None:  # shrank while we were not looking: new content
                    self.retire(prog)
                    prog = None
                start = 0
                if first and self._first_start and o.start_position == "end":
                    start = _after_last_newline(fd, st.st_size)
                if head:
                    prog = self.register(Identity.of(key[0], key[1], head), path, start)
                    prog.read_pos = start
            self._launch(path, fd, key, prog, start)
        except OSError as exc:
            os.close(fd)
            self.problem("open_error", f"cannot read {path}: {exc}")

    def _launch(
        self, path: str, fd: int, key: tuple[int, int], prog: Progress | None, start: int
    ) -> None:
        t = Tailer(self, path, fd, key[0], key[1], prog, start)
        self.tailers[key] = t
        self.moved(t, path)
        self.metrics.inc("files", event="opened")
        self.log.debug("reading %s from %d", path, start)
        t.task = self.spawn(t.run(), f"tail {path}")

    def _recover(self) -> None:
        """First scan after a restart: checkpointed files the globs no longer find.

        A rotation while we were down renamed the file (``create``) or copied it and
        truncated the original (``copytruncate``); the lines after the checkpoint are in
        the rotated file: a sibling whose name starts with the old name and whose first
        bytes match.  It is read from the checkpoint to its end, under the old identity.
        """
        open_uids = {t.progress.identity.uid for t in self.tailers.values() if t.progress}
        for p in list(self.progress.values()):
            if p.identity.uid in open_uids:
                continue
            found = self.find_rotated(p, p.path, p.read_pos)
            if found is None:
                continue
            path, fd, key = found
            self.log.info(
                "%s was rotated while stopped: reading %s from %d", p.path, path, p.read_pos
            )
            self.metrics.inc("files", event="recovered")
            try:
                self._launch(path, fd, key, p, p.read_pos)
            except OSError as exc:
                os.close(fd)
                self.problem("open_error", f"cannot read {path}: {exc}")

    def find_rotated(
        self, p: Progress, path: str, size: int
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
                    and key not in self.tailers
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

    def closed(self, t: Tailer) -> None:
        """A tailer ended (inactive, read error, stop)."""
        if self.tailers.get((t.dev, t.ino)) is t:
            del self.tailers[(t.dev, t.ino)]
            if self._by_path.get(t.path) is t:
                del self._by_path[t.path]
            self.metrics.inc("files", event="closed")
            self.metrics.set_gauge("files_open", len(self.tailers))
        t.close()

    # -- problems, at a bounded rate ----------------------------------------------------------
    def problem(self, reason: str, text: str, exc: BaseException | None = None) -> None:
        self.metrics.inc("rejected", reason=reason)
        self._rate_log(reason, text, exc)

    def bad_text(self, path: str, offset: int) -> None:
        self.metrics.inc("invalid_text")
        self._rate_log(
            "invalid_text",
            f"{path}: invalid {self.options.encoding} at line offset {offset} (replaced)",
        )

    def _rate_log(self, key: str, text: str, exc: BaseException | None = None) -> None:
        if exc is not None:
            self._ratelog.warning(key, "%s", text, every=LOG_EVERY, exc=exc, level=logging.ERROR)
        else:
            self.warn_limited(key, "%s", text, every=LOG_EVERY)


def _after_last_newline(fd: int, size: int) -> int:
    """The offset just after the last newline before ``size`` (0 if none in the last MiB)."""
    pos = size
    step = 64 * 1024
    while pos > 0 and size - pos < (1 << 20):
        lo = max(0, pos - step)
        chunk = os.pread(fd, pos - lo, lo)
        nl = chunk.rfind(b"\n")
        if nl >= 0:
            return lo + nl + 1
        pos = lo
    return 0 if pos == 0 else size
