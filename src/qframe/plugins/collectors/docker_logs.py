"""docker-logs: one follow stream per container, one message per line, checkpointed."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from ...docker import (
    ContainerTasks,
    DockerApiError,
    DockerCollector,
    DockerOptions,
    DockerProtocolError,
    DockerUnavailable,
    Inspected,
    container_event,
)
from ...docker.events import EventWatcher
from ...docker.positions import (
    AckTracker,
    CheckpointFile,
    LineCounter,
    Position,
    first_position,
)
from ...docker.streams import STREAM_NAMES, LogDecoder, LogLine
from ...jsonline import decode_messages
from ...message import ContainerInfo, Delivery, Message, SharedFields, new_log
from ...options import Bytes, Duration, Field
from ...telemetry import MetricSpec
from ..common.multiline import MULTILINE_HELP, MultilineOptions
from .docker_joins import LogJoiner

CHECKPOINT = "positions.json"
GONE_ACTIONS = frozenset({"destroy", "remove"})
#: Podman stops a follow stream 250 ms (its tail poll interval) after the container's
#: ``died`` event, and from then on drops lines the reader is not ready for.  Bytes
#: received at most this long after an inspect (sent after them) said "running" were
#: sent before that stop, so they are whole.
TRUST_WINDOW = 0.2


class FollowGuard:
    """Whether what a follow stream delivered so far can be trusted (Podman's exit bug).

    Podman (4.x) ends the follow stream of a container that exited by reading its log
    file "until EOF" in a mode where every line the HTTP writer is not ready for at
    once is dropped (and a line can come out mangled): when the reader is behind
    (backpressure), the stream goes on with only every n-th line.  Lines received
    while the container was known to be running are whole, so before a chunk is used
    :meth:`trusted` makes sure the container was seen running after (or at most
    :data:`TRUST_WINDOW` before) the chunk arrived, asking ``is_running`` (an inspect)
    at most once per window.  Once it is not running, the rest of the stream must be
    thrown away and read again without follow from the last line emitted.
    """

    __slots__ = ("_clock", "_is_running", "_seen_running", "window")

    def __init__(
        self,
        is_running: Callable[[], Awaitable[bool]],
        window: float = TRUST_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._is_running = is_running
        self._clock = clock
        self._seen_running = -math.inf
        self.window = window

    async def trusted(self) -> bool:
        """Call when a chunk has arrived: False when the container may have stopped."""
        asked = self._clock()
        if asked - self._seen_running <= self.window:
            return True
        if not await self._is_running():
            return False
        self._seen_running = asked
        return True


class DockerLogsCollector(DockerCollector):
    """Follows the stdout and stderr of every container, one message per line.

    Opens one ``/containers/{id}/logs?follow=1&timestamps=1`` stream per container:
    for those running at start (unless ``skip-running``) and for each container that
    starts later.  New containers are learnt from the ``inputs`` (a docker-events
    collector: ``start`` and ``running`` events); without ``inputs`` the plugin
    follows ``/events`` itself.  The stream is demultiplexed (8-byte frame headers;
    the raw stream of a TTY container is read as stdout), each line's timestamp is
    parsed and lines the engine split (Docker at 16 KiB, Podman at 8 KiB) are joined
    again; lines longer than ``max-line-bytes`` are cut and tagged ``_truncated``.
    Containers with the label ``skip-container-label`` (any value but ``false``) are
    skipped.

    Positions and delivery: every message carries a delivery token; once the
    handlers acknowledged it, its container's position (newest timestamp delivered,
    and how many lines had exactly that timestamp) is checkpointed to
    ``<data-dir>/collector.<name>/positions.json`` (written atomically every tick and at
    shutdown; while it cannot be written — a full disk — the plugin is ``degraded``
    with the reason and ``qframe_rejected_total{reason="checkpoint_error"}`` counts the
    failures).  After a restart of qframe, a stream resumes from the checkpoint; after
    the engine went away and came back, from the last line emitted.  Resuming asks the
    engine for ``since`` = that second and skips the lines already delivered: those
    older than the position's timestamp, and the first *count* lines stamped exactly
    with it (Podman's timestamps have one-second precision, so several lines share
    one; the engine replays them in the same order).  Hence no gap and no duplicate,
    except that a line whose timestamp goes backwards right at a resume point could be
    skipped.  A container running at start with no checkpoint is read from the second the
    collector started (``from-beginning: true``: from its first line), or from the second the
    checkpoint was last written if there is one (the container started while qframe was
    down: what it wrote since is read); a container that starts while qframe runs is read
    from its first line.  A container is in the checkpoint from its first read on, at the
    position that read starts from (``{"ts": 0, "n": 0}``: its first line) until its lines
    are acknowledged: lines read but not yet acknowledged when qframe stops or crashes are
    read again on the next start.  An entry of the checkpoint that is not
    a position (a timestamp or count that is not a whole number in range) is counted
    (``qframe_rejected_total{reason="checkpoint"}``), logged and left out, and its
    container is read from its first line.  A checkpoint that cannot be read at all (cut
    short, not JSON, another version) is counted and logged the same way, kept as
    ``positions.json.bad-<time>``, and every container running at start is read from its
    first line: qframe ran before, and the lines written while it was down must not be a
    silent gap (the ids are the same as the first time: at least once, a de-duplicating
    destination keeps one copy).

    Emits kind ``log``:

    - ``message``: the line (UTF-8, invalid bytes replaced, without its newline)
    - ``fields.stream``: ``stdout`` or ``stderr``; ``container``: its metadata
    - ``time``: the engine's timestamp of the line
    - ``id``: ``<container id>:<timestamp ns>:<seq>`` (seq: index among the lines with
      that timestamp), the same when a line is replayed after a crash

    Example::

        {"@timestamp": "2026-11-26T05:33:06.000000Z",
         "id": "8d82…:1795671186000000000:0", "kind": "log", "message": "hi",
         "fields": {"stream": "stdout"},
         "container": {"id": "8d82…", "name": "web1", "image": "localhost/busybox:latest"}}

    A TTY container's stream has no frames: a line the engine split arrives joined there,
    but with the timestamps of its later pieces left inside the text.

    Podman's follow stream drops lines once the container has exited while the reader is
    behind (see :class:`FollowGuard`): a chunk of a follow stream is used only when the
    container was seen running (an inspect, at most one per 0.2 s of a busy stream)
    after it arrived or 0.2 s before; else the stream is cut and the rest of the log read
    without follow from the last line emitted, so the lines arrive whole and in order.

    Metrics: ``qframe_streams`` (gauge), ``qframe_skipped_total`` (skip label),
    ``qframe_follow_cut_total`` (follow streams cut because the container stopped),
    ``qframe_rescans_total``, ``qframe_rescan_found_total`` (containers found by a rescan,
    not by events),
    ``qframe_replayed_total`` (lines skipped on resume), ``qframe_truncated_total``,
    ``qframe_engine_errors_total``, ``qframe_rejected_total{reason}``.
    """

    class Options(DockerOptions):
        skip_running: bool = Field(
            False, description="do not follow containers already running at start"
        )
        skip_container_label: str = Field(
            "org.qnib.qframe.skip-log",
            description="containers with this label (any value but false) are not followed",
        )
        from_beginning: bool = Field(
            False,
            description="read a container running at start without a checkpoint from its "
            "first line (default: from the second the collector started, or the checkpoint "
            "was last written if earlier)",
        )
        max_line_bytes: Bytes = Field(
            "1MiB", description="longer lines are cut and tagged _truncated"
        )
        format: Literal["text", "json"] = Field(
            "text",
            description="json: a line that is a JSON object becomes message + fields "
            "(as tcp's format: json); others are kept and tagged _jsonparsefailure",
        )
        multiline: MultilineOptions | None = Field(
            None, description=MULTILINE_HELP + " (per container and stream)"
        )
        rescan: Duration = Field(
            "10s",
            description="list the running containers this often and follow any not yet "
            "followed (a safety net under the events; 0: never)",
        )

    exported_metrics = (
        MetricSpec("streams", "gauge", "open log streams"),
        MetricSpec("skipped", "counter", "containers left out by skip-container-label"),
        MetricSpec("follow_cut", "counter", "follow streams cut because the container stopped"),
        MetricSpec("rescan_found", "counter", "containers found by a rescan, not by events"),
        MetricSpec("replayed", "counter", "lines skipped on resume (emitted before)"),
        MetricSpec("truncated", "counter", "lines cut to max-line-bytes and tagged _truncated"),
        MetricSpec("invalid_json", "counter", "format json: lines that are not JSON objects"),
    )

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.streams = ContainerTasks(self)
        self.committed: dict[str, Position] = {}
        self.emitted: dict[str, Position] = {}
        self.trackers: dict[str, AckTracker] = {}
        self._store: CheckpointFile | None = None
        self._dirty = False
        self._save_error = ""  # why the last checkpoint write failed ("" when it did not)
        self._closing = False
        # lines older than this second of the collector's start are not read from a container
        # first seen running (no checkpoint): what it wrote while qframe ran is, even when the
        # first scan or the "running" event comes only after the container started
        self._started_s = int(time.time())
        # containers not to follow: skipped by label, or running at start with skip-running
        self._ignored: set[str] = set()
        self.joiner: LogJoiner | None = None
        if self.options.multiline is not None:
            self.joiner = LogJoiner(self.options.multiline, self.name)
        # without inputs: its own /events (for starts and stops)
        self.watcher: EventWatcher | None = None
        if not self.options.inputs:
            self.watcher = EventWatcher(
                self, {"type": ["container"]}, self._on_events, self._initial
            )

    # -- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._store = CheckpointFile(self.data_dir / CHECKPOINT)
        try:
            self.committed = self._store.load()
        except ValueError as exc:
            self.metrics.inc("rejected", reason="checkpoint")
            self.log.error(
                "%s; starting without it: the containers running now are read from their "
                "first line",
                exc,
            )
            bad = self._store.path.with_name(f"{CHECKPOINT}.bad-{int(time.time())}")
            with contextlib.suppress(OSError):
                self._store.path.rename(bad)  # kept for a post-mortem
            self.committed = {}
        for why in self._store.rejected:
            self.reject(
                "checkpoint",
                f"{self._store.path}: {why}; that container is read from its first line",
            )

    async def stop(self) -> None:
        for cid in list(self.streams.tasks):
            self.streams.cancel(cid)
        self._closing = True  # from now on every acknowledgement is saved at once
        self.save()
        await super().stop()

    async def on_tick(self) -> None:
        if self.joiner is not None:
            cut = [0]
            for cid, msgs in self.joiner.due(cut):
                await self._send_joined(cid, msgs)
            if cut[0]:
                self.metrics.inc("truncated", cut[0])
        if self._dirty:
            self.save()

    def save(self) -> None:
        if self._store is None:
            return
        positions = dict(self.committed)
        for cid, t in self.trackers.items():
            positions[cid] = t.committed
        try:
            self._store.save(positions)
            self._dirty = False
        except OSError as exc:
            self.metrics.errors += 1
            self.metrics.inc("rejected", reason="checkpoint_error")
            self.warn("checkpoint", "cannot write %s: %s", self._store.path, exc)
            self._save_error = f"cannot write checkpoint {self._store.path}: {exc}"
            if self.metrics.state == "ok":
                self.set_health("ok")  # becomes degraded with the reason
        else:
            was, self._save_error = self._save_error, ""
            if was and self.metrics.state_reason == was:
                self.set_health("ok")

    def set_health(self, state: str, reason: str = "") -> None:
        """Degraded while checkpoints cannot be written, whatever the engine's state."""
        if state == "ok" and self._save_error:
            state, reason = "degraded", self._save_error
        super().set_health(state, reason)

    def _on_commit(self) -> None:
        self._dirty = True
        if self._closing:
            self.save()

    # -- which containers ----------------------------------------------------------------------
    async def run(self) -> None:
        await self.until_done(self._first_scan)
        if self.watcher is not None:  # the stream opens first, then the list
            self.spawn(self.watcher.run(), "events")
        await self.rescan(self.options.rescan, self._rescanned)

    async def _first_scan(self) -> None:
        await self._prune()
        if self.options.inputs:
            await self._initial(True)

    async def _initial(self, first: bool) -> None:
        if not first:
            return
        for c in await self.client.containers():
            if self.options.skip_running:
                self._ignored.add(c["Id"])
            else:
                self._open(c["Id"], initial=True)

    def _rescanned(self, cid: str) -> None:
        if cid not in self._ignored and cid not in self.streams:
            self.metrics.inc("rescan_found")
            self._open(cid, initial=False)

    async def _prune(self) -> None:
        """Forget the checkpoints of containers that no longer exist."""
        if not self.committed:
            return
        existing = {c["Id"] for c in await self.client.containers(all=True)}
        gone = [cid for cid in self.committed if cid not in existing]
        for cid in gone:
            del self.committed[cid]
        if gone:
            self._dirty = True

    async def receive(self, batch: list[Message]) -> None:
        for m in batch:
            ev = container_event(m)
            if ev is not None:
                self._on_action(ev[0], ev[1])

    async def _on_events(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            actor = e.get("Actor") or {}
            cid = str(actor.get("ID") or e.get("id") or "") if isinstance(actor, dict) else ""
            if cid:
                self._on_action(str(e.get("Action") or e.get("status") or ""), cid)

    def _on_action(self, action: str, cid: str) -> None:
        action = action.partition(":")[0]
        if action == "running":
            if not self.options.skip_running:
                self._open(cid, initial=True)
        elif action in ("start", "restart"):
            self._ignored.discard(cid)
            self._open(cid, initial=False)
        elif action in GONE_ACTIONS and cid not in self.streams:
            self._gone(cid)

    def _gone(self, cid: str) -> None:
        """The container was removed: forget its position and its cached inspect."""
        self._ignored.discard(cid)
        self.cache.forget(cid)
        if self.committed.pop(cid, None) is not None or cid in self.trackers:
            self._dirty = True
        self.emitted.pop(cid, None)
        self.trackers.pop(cid, None)

    def _skipped(self, info: ContainerInfo) -> bool:
        label = self.options.skip_container_label
        v = info.labels.get(label) if label else None
        return v is not None and v.lower() not in ("false", "0", "no")

    def _open(self, cid: str, initial: bool) -> None:
        if self.streams.start(cid, lambda: self._follow(cid, initial)):
            self.metrics.set_gauge("streams", len(self.streams))

    def _resume(self, cid: str, initial: bool) -> Position:
        pos = self.emitted.get(cid)
        if pos is not None:
            return pos
        pos = self.committed.get(cid)
        if pos is not None:
            return pos
        store = self._store
        lost = store is not None and store.lost(cid)
        written = store.written_s if store is not None else None
        pos = first_position(
            None, initial, self.options.from_beginning, self._started_s, lost, written
        )
        # a later reconnection resumes here too, not from "now", until a line is emitted
        self.emitted[cid] = pos
        return pos

    # -- one container -----------------------------------------------------------------------------
    async def _follow(self, cid: str, initial: bool) -> None:
        attempt = 0
        try:
            while True:
                if attempt:
                    await asyncio.sleep(self.backoff(attempt))
                await self.connect()
                try:
                    item = await self.cache.get(cid, refresh=True)
                    if item is None:
                        self._gone(cid)
                        return
                    if self._skipped(item.info):
                        self.metrics.inc("skipped")
                        self._ignored.add(cid)
                        return
                    # Podman's follow stream of a container that has exited ends early and
                    # skips lines: a stopped container's log is read without follow
                    follow = item.running
                    await self._read(cid, item, LineCounter(self._resume(cid, initial)), follow)
                    attempt = 0
                    if not follow:
                        return
                    # the stream ended: the container stopped, or the engine went away
                    fresh = await self.cache.get(cid, refresh=True)
                    if fresh is None:
                        self._gone(cid)
                        return
                    if not fresh.running:  # what the stream may have left out at the end
                        counter = LineCounter(self._resume(cid, initial))
                        await self._read(cid, fresh, counter, follow=False)
                        return
                except DockerApiError as exc:
                    if exc.status == 404:
                        self._gone(cid)
                        return
                    attempt += 1
                    self.warn(f"api:{exc.status}", "logs of %s: %s", cid[:12], exc)
                except DockerProtocolError as exc:
                    attempt += 1
                    self.reject("protocol", f"logs of {cid[:12]}: {exc}")
                except DockerUnavailable as exc:
                    self.engine_down(exc)
        finally:
            self.metrics.set_gauge("streams", max(0, len(self.streams) - 1))

    async def _read(
        self, cid: str, item: Inspected, counter: LineCounter, follow: bool = True
    ) -> None:
        tracker = self.trackers.get(cid)
        if tracker is None:
            # checkpointed from now on at the position this read starts from (from the first
            # line: (0, 0)), before any of its lines is acknowledged: a restart after the
            # next checkpoint write resumes there, not from that write's second, which
            # would skip the lines read but not yet acknowledged
            tracker = AckTracker(counter.resume, self._on_commit)
            self.trackers[cid] = tracker
            if self.committed.get(cid) != counter.resume:
                self._dirty = True
        dec = LogDecoder(tty=item.tty, max_line=self.options.max_line_bytes)
        emit = self._emit
        if self.joiner is not None:
            self.joiner.reading(cid, item.info, counter, tracker)
            emit = self._emit_joined
        try:
            await self._read_stream(cid, item, dec, counter, tracker, follow, emit)
        except asyncio.CancelledError:
            raise  # (shutdown) held lines stay behind the checkpoint: read again next time
        except BaseException:
            await self._end_joins(cid)
            raise
        await self._end_joins(cid)

    async def _read_stream(
        self,
        cid: str,
        item: Inspected,
        dec: LogDecoder,
        counter: LineCounter,
        tracker: AckTracker,
        follow: bool,
        emit: Callable[..., Awaitable[None]],
    ) -> None:
        client = self.client
        since = counter.resume.since()
        async with client.stream(
            f"/containers/{cid}/logs",
            stdout=True,
            stderr=True,
            follow=follow,
            timestamps=True,
            since=since,
        ) as resp:
            guard = FollowGuard(lambda: self._running(cid)) if follow else None
            async for chunk in client.read_chunks(resp):
                if guard is not None and not await guard.trusted():
                    # the container stopped: this chunk and the rest may miss lines; the
                    # caller reads them again without follow, from the last line emitted
                    self.metrics.inc("follow_cut")
                    return
                lines = dec.feed(chunk)
                if lines:
                    await emit(cid, item.info, lines, counter, tracker)
            if dec.bad_timestamps:
                self.reject("bad_timestamp", f"{dec.bad_timestamps} lines of {cid[:12]}")
            lines = dec.close()  # raises on a frame cut short
            if lines:
                await emit(cid, item.info, lines, counter, tracker)

    async def _running(self, cid: str) -> bool:
        state = (await self.client.inspect(cid)).get("State")
        return isinstance(state, dict) and bool(state.get("Running"))

    async def _emit(
        self,
        cid: str,
        info: ContainerInfo,
        lines: list[LogLine],
        counter: LineCounter,
        tracker: AckTracker,
    ) -> None:
        batch: list[Message] = []
        replayed = 0
        now = time.time()
        name = self.name
        # one fields dict per stream for the whole read (copied if a filter changes it)
        fields = {k: SharedFields(stream=v) for k, v in STREAM_NAMES.items()}
        stdout = fields[1]
        accept = counter.accept
        for ln in lines:
            ts = ln.ts_ns
            seq = accept(ts)
            if seq < 0:
                replayed += 1
                continue
            m = new_log(
                ln.text.decode("utf-8", "replace"),
                ts / 1e9 if ts else now,
                "",
                [name],
                f"{cid}:{ts}:{seq}",
                fields.get(ln.stream, stdout),
                None,
                info,
            )
            if ln.truncated:
                m.add_tag("_truncated")
                self.metrics.inc("truncated")
            batch.append(m)
        if replayed:
            self.metrics.inc("replayed", replayed)
        if not batch:
            return
        if self.options.format == "json":
            bad = decode_messages(batch)
            if bad:
                self.metrics.inc("invalid_json", bad)
        pos = counter.position
        d = Delivery(len(batch), tracker.track(pos))
        for m in batch:
            m.ack = d
        self.emitted[cid] = pos
        self.metrics.received += len(batch)
        await self.emit(batch)

    # -- multiline ---------------------------------------------------------------------------
    async def _emit_joined(
        self,
        cid: str,
        info: ContainerInfo,
        lines: list[LogLine],
        counter: LineCounter,
        tracker: AckTracker,
    ) -> None:
        assert self.joiner is not None
        cut = [0]
        batch, replayed = self.joiner.feed(cid, lines, cut)
        if replayed:
            self.metrics.inc("replayed", replayed)
        if cut[0]:
            self.metrics.inc("truncated", cut[0])
        self.emitted[cid] = self.joiner.safe(cid)  # a read again rebuilds what is held
        if batch:
            await self._send_joined(cid, batch)

    async def _send_joined(self, cid: str, batch: list[Message]) -> None:
        assert self.joiner is not None
        if self.options.format == "json":
            bad = decode_messages(batch)
            if bad:
                self.metrics.inc("invalid_json", bad)
        c = self.joiner.containers[cid]
        d = Delivery(len(batch), c.tracker.track(self.joiner.safe(cid)))
        for m in batch:
            m.ack = d
        self.metrics.received += len(batch)
        await self.emit(batch)

    async def _end_joins(self, cid: str) -> None:
        """The read ended: its pending messages are sent (a next read starts after them)."""
        if self.joiner is None or cid not in self.joiner.containers:
            return
        cut = [0]
        for _, msgs in self.joiner.due(cut, final_cid=cid):
            await self._send_joined(cid, msgs)
        if cut[0]:
            self.metrics.inc("truncated", cut[0])
        self.emitted[cid] = self.joiner.containers[cid].counter.position
        self.joiner.end(cid)
