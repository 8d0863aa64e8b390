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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ....aio import wait_event
from ....plugin import Collector
from ....telemetry import MetricSpec
from .checkpoint import CheckpointStore, Progress
from .identity import Identity, read_head
from .options import FileOptions
from .rotation import MARGIN, recover
from .tailer import Tailer
from .watch import Watcher

__all__ = ["FileCollector"]

FORGET_AFTER = 24 * 3600.0  # a record of a file no longer found is kept this long
LOG_EVERY = 10.0  # at most one log line per problem kind in this many seconds
#: the main process's checkpoint of a collector whose files workers read (by directory)
_SHARED_STORES: dict[str, CheckpointStore] = {}


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
    directory, name starting with the file's name, first bytes matching).

    **Rotations nobody saw** (several while qframe was down, or between two looks):
    at start, when another file appears at a watched path, and after a truncation,
    the rotated forms of the path in its directory (``app.log.1``, ``app.log.2.gz``,
    ``app.log-20261205``) are matched to the checkpoint by identity; the checkpointed
    file is read from its offset, then every generation written since qframe last
    looked, from 0 and oldest first, then the live file.  A glob may match the rotated
    names too (each is then tailed as itself, and read once).  What is gone cannot be
    read: a generation compressed before it was read to its end, or a checkpointed
    file deleted with bytes the checkpoint knew were unread, is counted in
    ``qframe_files_lost_total{reason=compressed|deleted}`` and
    ``qframe_lost_bytes_total{reason}`` and logged.

    **Delivery.** Every batch carries a delivery token; the checkpoint
    (``<data-dir>/collector.<name>/checkpoints.json``, written atomically on tick and
    at stop) holds per file the offset below which every line was acknowledged by
    every handler.  After a crash reading resumes there: lines may repeat, none is
    lost, and as ids are deterministic a de-duplicating destination keeps one copy.
    Each checkpoint record is checked on load; an invalid one (a negative offset, a
    field of the wrong type) is counted (``rejected{reason="checkpoint"}``), logged,
    and its file read from its start; the other records are used.  A checkpoint that
    cannot be read at all (cut short, not JSON or not UTF-8, nested too deep) is counted
    and logged the same way, and every file is read from its start.

    **Workers.** With ``workers: N`` (or ``auto``) N processes share the files: a file
    is read by the process its inode falls to (device + inode modulo N; a file renamed by
    a rotation stays with it), in order, as one process reads it.  The workers send their
    lines to the main process, which runs the pipeline and sends the acknowledgements
    back: a worker's positions advance only then, as above.  The checkpoint stays one file:
    each worker reports its records and the main process writes them together, once
    every worker has reported.  A worker that dies is started again and reads on from the
    checkpoint (lines acknowledged after its last report come again: at least once); a
    reload that changes the options drains the old workers, then the new ones read on
    from the checkpoint.  A rotated generation found by the owner of its predecessor's
    record is read there; a glob that matches rotated names too may then read it twice.

    **Health** is ``degraded``, with the reason, while a matching file cannot be
    opened, while a file's reads keep failing, or while the checkpoint cannot be
    written (``rejected{reason="checkpoint_error"}``, e.g. a full disk); ``ok`` again
    once none of that holds.

    **Emits** one ``log`` message per line (or per multiline group): ``message`` the
    text (``encoding``, invalid bytes replaced and counted), ``id``
    ``<identity hash>-<offset>``, ``host``, ``fields.path``, ``fields.offset`` (byte
    offset of the line), ``fields.lines`` (multiline groups of more than one line).
    Lines over ``max-line-bytes`` are cut and tagged ``_truncated``; blank lines are
    skipped.  Counters: ``qframe_files_total{event=opened|closed|renamed|deleted|truncated}``,
    (and ``copy_read``: lines taken from a copy; ``recovered``: a rotated generation
    read), ``qframe_files_lost_total{reason}``, ``qframe_lost_bytes_total{reason}``,
    ``qframe_bytes_total``, ``qframe_truncated_total``, ``qframe_invalid_text_total``,
    ``qframe_rejected_total{reason=…}`` (files that cannot be opened or read,
    checkpoints that cannot be read or written); gauges ``qframe_files_open``,
    ``qframe_lag_bytes`` (bytes written to the open files and not read yet, on tick).

    Example::

        {"@timestamp": "2026-11-26T05:00:00.123456Z", "id": "9f86d081884c7d65-5120",
         "kind": "log", "message": "127.0.0.1 - - [26/Nov/2026:05:00:00 +0000] \\"GET / …",
         "level": 6, "host": "web1", "source_path": ["nginx"],
         "fields": {"path": "/var/log/nginx/access.log", "offset": 5120}}
    """

    Options = FileOptions
    #: ``workers`` > 1: each process reads the files of its partition (by inode)
    shares_work = "files"

    exported_metrics = (
        MetricSpec(
            "files",
            "counter",
            "file events, by event (opened, closed, renamed, deleted, truncated, copy_read, recovered)",
        ),
        MetricSpec("bytes", "counter", "bytes read"),
        MetricSpec("truncated", "counter", "lines cut to max-line-bytes and tagged _truncated"),
        MetricSpec("invalid_json", "counter", "format json: lines that are not JSON objects"),
        MetricSpec(
            "invalid_container_lines",
            "counter",
            "format cri / docker-json: lines not of the format (kept, tagged _criparsefailure)",
        ),
        MetricSpec(
            "partial_flushed",
            "counter",
            "format cri / docker-json: partial lines never completed, sent tagged _partial",
        ),
        MetricSpec(
            "invalid_text", "counter", "lines with bytes invalid in the file's encoding (replaced)"
        ),
        MetricSpec(
            "rejected",
            "counter",
            "files that cannot be opened or read, checkpoints that cannot be read or written, by reason",
        ),
        MetricSpec(
            "files_lost", "counter", "rotated files lost before read to their end, by reason"
        ),
        MetricSpec("lost_bytes", "counter", "unread bytes of the files lost, by reason"),
        MetricSpec("files_open", "gauge", "files open now"),
        MetricSpec(
            "lag_bytes", "gauge", "bytes written to the open files and not read yet (on tick)"
        ),
    )
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
        self._at_path: dict[str, tuple[tuple[int, int], float]] = {}  # path -> file, when seen
        self._since = 0.0  # when the loaded checkpoint was written
        self._failing: dict[tuple[int, int], str] = {}  # files whose last read failed -> why
        self._conditions: dict[str, str] = {}  # what makes the health degraded, by kind
        #: a worker process's share (``workers``): (index, count, report), or None
        self._share: tuple[int, int, Callable[[Any], None]] | None = None
        self._reported: Any = None

    # -- workers: a partition of the files per process ------------------------------------
    def share_work(self, index: int, count: int, report: Callable[[Any], None]) -> None:
        """Read only the files whose inode falls in partition ``index`` of ``count`` (a
        file keeps its inode when a rotation renames it); the checkpoint records go to
        the main process (``report``), which writes the one checkpoint file."""
        self._share = (index, count, report)

    def _mine(self, dev: int, ino: int) -> bool:
        share = self._share
        return share is None or share_of(dev, ino, share[1]) == share[0]

    @classmethod
    def write_shared_reports(cls, data_dir: Path, reports: list[Any]) -> None:
        """The workers' records as one checkpoint (a file read by two workers, a rotated
        generation recovered by the owner of its predecessor: the owner's record wins)."""
        n = len(reports)
        merged: dict[tuple[Any, ...], tuple[bool, dict[str, Any]]] = {}
        for idx, records in enumerate(reports):
            for r in records:
                key = (r["dev"], r["ino"], r["fp"])
                own = share_of(r["dev"], r["ino"], n) == idx
                if key not in merged or (own and not merged[key][0]):
                    merged[key] = (own, r)
        store = _SHARED_STORES.get(str(data_dir))
        if store is None:
            store = _SHARED_STORES[str(data_dir)] = CheckpointStore(data_dir)
        store.save_records([r for _, r in merged.values()])

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
        for why in self._store.rejected:
            self.metrics.inc("rejected", reason="checkpoint")
            self._rate_log(
                "checkpoint", f"{self._store.path}: {why}; that file is read from its start"
            )
        self._since = self._store.mtime - MARGIN
        for p in loaded:
            if self._mine(p.identity.dev, p.identity.ino):  # (a worker: its partition's)
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
            await wait_event(self._wake, interval)

    async def on_tick(self) -> None:
        lag = 0
        for t in self.tailers.values():
            try:
                size = os.fstat(t.fd).st_size
            except OSError:
                continue
            lag += max(0, size - t.pos)
            if t.progress is not None:
                t.progress.size = size
        self.metrics.set_gauge("lag_bytes", lag)
        self.save_checkpoint()

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
        if self._share is not None:  # a worker: the main process writes the whole
            records = sorted(
                (p.to_record() for p in self.progress.values()),
                key=lambda r: (r["path"], r["ino"]),
            )
            if records != self._reported:
                self._share[2](records)
                self._reported = records
            return
        try:
            self._store.save(list(self.progress.values()))
        except OSError as exc:
            self.problem("checkpoint_error", f"cannot write checkpoint: {exc}")
            self._condition("checkpoint", f"cannot write checkpoint {self._store.path}: {exc}")
        else:
            self._condition("checkpoint", "")

    def register(self, ident: Identity, path: str, start: int, fresh: bool = False) -> Progress:
        """A tailer learned the identity of its file (first bytes read).

        ``fresh``: the tailer reads new content from ``start``; a record with the same
        identity (the same first bytes written again into the same inode) is replaced.
        """
        p = self.progress.get(ident.uid)
        if p is None or fresh:
            p = Progress(ident, path, start)
            self.progress[ident.uid] = p
        p.path = path
        p.last_seen = time.time()
        return p

    def is_open(self, p: Progress) -> bool:
        """Is the content behind ``p`` being read (its tailer is open)?"""
        t = self.tailers.get((p.identity.dev, p.identity.ino))
        return t is not None and t.progress is p

    def tailer_at(self, path: str) -> Tailer | None:
        return self._by_path.get(path)

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
        elif self._watched(path):
            # no tailer has it open (closed after close-inactive, or its creation was seen
            # before it matched): discovery looks now, not after scan-interval
            self._wake.set()

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

    def _watched(self, path: str) -> bool:
        return any(
            fnmatch.fnmatch(path, os.path.expanduser(x)) for x in self.options.path
        ) and not any(
            fnmatch.fnmatch(path, x) or fnmatch.fnmatch(os.path.basename(path), x)
            for x in self.options.exclude
        )

    def _glob(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.options.path:
            for p in glob.iglob(os.path.expanduser(pattern), recursive=True):
                if self.options.exclude and any(
                    fnmatch.fnmatch(p, x) or fnmatch.fnmatch(os.path.basename(p), x)
                    for x in self.options.exclude
                ):
                    continue
                found.add(p)
        return sorted(found)

    def _scan(self) -> None:
        first = self._scans == 0
        self._unopened = 0
        now = time.time()
        seen: set[tuple[int, int]] = set()
        changed: list[tuple[str, float]] = []
        for path in self._glob():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = (st.st_dev, st.st_ino)
            if self._share is not None and not self._mine(*key):
                continue  # another worker's
            seen.add(key)
            t = self.tailers.get(key)
            if t is not None:
                t.attach(path)
            elif not self._stopping:
                self._open(path, key, st.st_size, first)
            before = self._at_path.get(path)
            self._at_path[path] = (key, now)
            if before is not None and before[0] != key:
                changed.append((path, before[1] - MARGIN))
        if not self._stopping:
            # another file at a path: the generations rotated in between are read too
            for path, since in changed:
                self.rotated(path, since, seen)
            if first and not self._first_start:
                self._recover(seen)
        for path in [p for p, (_, t) in self._at_path.items() if now - t > FORGET_AFTER]:
            del self._at_path[path]
        for key in [k for k in self._failing if k not in seen and k not in self.tailers]:
            del self._failing[key]
        for p in list(self.progress.values()):
            i = p.identity
            t = self.tailers.get((i.dev, i.ino))
            if (i.dev, i.ino) in seen and (t is None or t.progress is p):
                p.last_seen = now
            elif (
                not p.in_flight
                and (t is None or t.progress is not p)  # older content of an open inode
                and now - p.last_seen > FORGET_AFTER  # (copytruncate) is forgotten too
            ):
                del self.progress[i.uid]
        self.metrics.set_gauge("files_open", len(self.tailers))
        self._condition(
            "unopened",
            f"{self._unopened} matching files cannot be opened" if self._unopened else "",
        )
        self._stuck_health()

    def _open(self, path: str, key: tuple[int, int], size: int, first: bool) -> None:
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
            head = read_head(fd, self.options.fingerprint_bytes)
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
                    self.log.info(
                        "%s is shorter (%d) than its checkpoint (%d): reading it from its start",
                        path,
                        st.st_size,
                        prog.read_pos,
                    )
                    self.retire(prog)
                    prog = None
                start = 0
                if first and self._first_start and self.options.start_position == "end":
                    start = _after_last_newline(fd, st.st_size)
                if head:
                    prog = self.register(Identity.of(key[0], key[1], head), path, start)
                    prog.read_pos = start
            self.launch(path, fd, key, prog, start)
        except OSError as exc:
            os.close(fd)
            self.read_failed(key, path, exc, "open_error")

    def launch(
        self,
        path: str,
        fd: int,
        key: tuple[int, int],
        prog: Progress | None,
        start: int,
        home: str = "",
    ) -> Tailer:
        """Read ``fd`` (the file at ``path``) from ``start``; ``home``: the watched path
        its records belong to when it is a rotated generation."""
        t = Tailer(self, path, fd, key[0], key[1], prog, start, home)
        self.tailers[key] = t
        self.moved(t, path)
        self.metrics.inc("files", event="opened")
        self.log.debug("reading %s from %d", path, start)
        t.task = self.spawn(t.run(), f"tail {path}")
        return t

    def _recover(self, seen: set[tuple[int, int]]) -> None:
        """First scan after a restart: checkpointed files no longer where they were.

        Rotations while we were down renamed the file (``create``) or copied it and
        truncated the original (``copytruncate``), maybe several times: for each watched
        path with such records, :func:`.rotation.recover` reads the rest of the
        checkpointed file, then every generation written since the checkpoint.
        """
        paths = {p.path for p in self.progress.values() if not self.is_open(p)}
        paths = {p for p in paths if self._watched(p)}  # not paths dropped from the config
        for path in sorted(paths):
            self.rotated(path, self._since, seen)

    def rotated(self, path: str, since: float, seen: set[tuple[int, int]]) -> None:
        """``path`` names another file than when we last looked at it (``since``)."""
        n = recover(self, path, since, seen)
        if n:
            self.log.info("%s was rotated while stopped or unwatched: %d files to read", path, n)

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

    def read_failed(self, key: tuple[int, int], path: str, exc: OSError, reason: str) -> None:
        """Reading an open file failed: counted, logged; degraded until a read succeeds."""
        self.problem(reason, f"cannot read {path}: {exc}")
        self._failing[key] = f"{path}: {exc.strerror or exc}"
        self._stuck_health()

    def read_ok(self, key: tuple[int, int]) -> None:
        if self._failing.pop(key, None) is not None:
            self._stuck_health()

    def _stuck_health(self) -> None:
        f = self._failing
        reason = ""
        if f:
            first = next(iter(f.values()))
            reason = f"{len(f)} files cannot be read ({first})"
        self._condition("stuck", reason)

    def _condition(self, kind: str, reason: str) -> None:
        """Health: ``degraded`` with every reason set, ``ok`` when none is."""
        if reason:
            self._conditions[kind] = reason
        else:
            self._conditions.pop(kind, None)
        c = self._conditions
        if c:
            self.set_health("degraded", "; ".join(c[k] for k in sorted(c)))
        else:
            self.set_health("ok")

    def log_loss(self, text: str) -> None:
        """Lines that cannot be read any more (counted by the caller).

        Each lost file is named: the rate limit holds back repeats of one text only (two
        generations lost at once were logged as one before, whichever was counted first).
        """
        self._rate_log("lost:" + text[:300], text)

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


def share_of(dev: int, ino: int, count: int) -> int:
    """The worker (of ``count``) that reads the file ``dev``, ``ino``."""
    return (dev + ino) % count


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
