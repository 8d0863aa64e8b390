"""docker-stats: one streaming ``/containers/{id}/stats`` per running container."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ...docker import (
    ContainerTasks,
    DockerApiError,
    DockerCollector,
    DockerOptions,
    DockerProtocolError,
    DockerUnavailable,
    container_event,
)
from ...docker.base import START_ACTIONS, STOP_ACTIONS
from ...docker.events import EventWatcher
from ...docker.streams import JsonLines
from ...message import KIND_METRIC, ContainerInfo, Message, parse_time
from ...options import Duration, Field
from ...telemetry import MetricSpec

#: the engine answers ``read`` as the zero time before the first sample
ZERO_TIME = "0001-01-01T00:00:00Z"


class DockerStatsCollector(DockerCollector):
    """Streams the engine's raw resource statistics of every running container.

    One streaming ``/containers/{id}/stats`` request per running container (about one
    sample per second each): for those running at start, and for each ``start`` /
    ``running`` event that arrives from its ``inputs`` (a docker-events collector); a
    ``die`` / ``stop`` / ``destroy`` event ends the stream.  Without ``inputs`` it
    follows ``/events`` itself for that.  Containers with the label ``skip-label`` are
    left out.  When the engine goes away every stream is re-opened once it is back
    (``degraded`` meanwhile).  Turn the raw samples into Telegraf-style metrics with the
    ``docker-stats`` filter.

    Emits kind ``metric`` with no ``metric`` part (the filter adds it):

    - ``message``: ``<container name>: stats``
    - ``fields.stats``: the engine's stats object as it sent it (``read``,
      ``cpu_stats``, ``precpu_stats``, ``memory_stats``, ``networks``, ``blkio_stats``,
      ``pids_stats``)
    - ``container``: the container's metadata; ``time``: the sample's ``read`` time
    - ``id``: ``<container id>:stats:<read>``

    Example::

        {"@timestamp": "2026-11-26T05:33:08.865858Z", "kind": "metric",
         "message": "web1: stats", "fields": {"stats": {"read": "2026-11-26T05:33:08.865858761Z",
         "cpu_stats": {"cpu_usage": {"total_usage": 29605465, …}, …}, …}},
         "container": {"id": "8d82…", "name": "web1", …}}

    Metrics: ``qframe_streams`` (gauge: open stats streams), ``qframe_engine_errors_total``,
    ``qframe_rejected_total{reason}``, ``qframe_thinned_total`` (samples left out by
    ``interval``), ``qframe_rescans_total``, ``qframe_rescan_found_total`` (containers found
    by a rescan, not by events).
    """

    class Options(DockerOptions):
        skip_label: str = Field(
            "org.qnib.qframe.skip-stats",
            description="containers with this label (any value but false) get no stats stream",
        )
        rescan: Duration = Field(
            "10s",
            description="list the running containers this often and open a stream for any "
            "without one (a safety net under the events; 0: never)",
        )
        interval: Duration = Field(
            0,
            description="keep at most one sample per container this often (0: every sample "
            "the engine sends: Docker each second, Podman each 5 s)",
        )

    exported_metrics = (
        MetricSpec("streams", "gauge", "open stats streams"),
        MetricSpec("skipped", "counter", "containers left out by skip-container-label"),
        MetricSpec("thinned", "counter", "samples left out by interval"),
        MetricSpec("rescan_found", "counter", "containers found by a rescan, not by events"),
    )

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.streams = ContainerTasks(self)
        self._ignored: set[str] = set()  # skipped by label
        # without inputs: its own /events (for starts and stops)
        self.watcher: EventWatcher | None = None
        if not self.options.inputs:
            self.watcher = EventWatcher(
                self, {"type": ["container"]}, self._on_events, self._initial
            )

    async def run(self) -> None:
        if self.options.inputs:
            await self.until_done(lambda: self._initial(True))
        if self.watcher is not None:  # the stream opens first, then the list
            self.spawn(self.watcher.run(), "events")
        await self.rescan(self.options.rescan, self._rescanned)

    async def _initial(self, first: bool) -> None:
        if first:
            for c in await self.client.containers():
                self._open(c["Id"], None)

    def _rescanned(self, cid: str) -> None:
        if cid not in self._ignored and cid not in self.streams:
            self.metrics.inc("rescan_found")
            self._open(cid, None)

    async def receive(self, batch: list[Message]) -> None:
        for m in batch:
            ev = container_event(m)
            if ev is None:
                continue
            action, cid, info = ev
            if action in START_ACTIONS:
                self._open(cid, info)
            elif action in STOP_ACTIONS:
                self._close(cid)

    async def _on_events(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            action = str(e.get("Action") or e.get("status") or "").partition(":")[0]
            actor = e.get("Actor") or {}
            cid = str(actor.get("ID") or e.get("id") or "") if isinstance(actor, dict) else ""
            if not cid:
                continue
            if action in START_ACTIONS:
                self._open(cid, None)
            elif action in STOP_ACTIONS:
                self._close(cid)

    def _gone(self, cid: str) -> None:
        self._ignored.discard(cid)
        self.cache.forget(cid)

    def _skipped(self, info: ContainerInfo) -> bool:
        label = self.options.skip_label
        v = info.labels.get(label) if label else None
        return v is not None and v.lower() not in ("false", "0", "no")

    def _open(self, cid: str, info: ContainerInfo | None) -> None:
        if self.streams.start(cid, lambda: self._follow(cid, info)):
            self.metrics.set_gauge("streams", len(self.streams))

    def _close(self, cid: str) -> None:
        self.streams.cancel(cid)
        self.metrics.set_gauge("streams", len(self.streams))

    async def _follow(self, cid: str, info: ContainerInfo | None) -> None:
        attempt = 0
        try:
            while True:
                await self.connect()
                try:
                    item = await self.cache.get(cid)
                    if item is None:
                        self._gone(cid)
                        return
                    if info is None or not info.ips:
                        info = item.info
                    if self._skipped(info):
                        self.metrics.inc("skipped")
                        self._ignored.add(cid)
                        return
                    if not item.running:
                        item = await self.cache.get(cid, refresh=True)
                        if item is None or not item.running:
                            return
                    await self._read(cid, info)
                    attempt = 0
                except DockerApiError as exc:
                    if exc.status == 404:
                        return
                    attempt += 1
                    self.warn(f"api:{exc.status}", "stats of %s: %s", cid[:12], exc)
                except DockerProtocolError as exc:
                    attempt += 1
                    self.reject("protocol", f"stats of {cid[:12]}: {exc}")
                except DockerUnavailable as exc:
                    self.engine_down(exc)
                    continue  # connect() waits for the engine
                # the stream ended: still running? (a stopped container ends its stream)
                try:
                    fresh = await self.cache.get(cid, refresh=True)
                except DockerUnavailable as exc:
                    self.engine_down(exc)
                    continue
                if fresh is None:
                    self._gone(cid)
                    return
                if not fresh.running:
                    return
                if attempt:
                    await asyncio.sleep(self.backoff(attempt))
        finally:
            self.metrics.set_gauge("streams", max(0, len(self.streams) - 1))

    async def _read(self, cid: str, info: ContainerInfo) -> None:
        client = self.client
        label = f"{info.name or cid[:12]}: stats"
        interval = self.options.interval
        next_at = 0.0
        async with client.stream(f"/containers/{cid}/stats", stream=True) as resp:
            dec = JsonLines()
            async for chunk in client.read_chunks(resp):
                objs = dec.feed(chunk)
                if dec.errors:
                    self.reject("bad_stats", dec.last_error)
                    dec.errors = 0
                objs = [o for o in objs if self._valid(o)]
                if objs and interval:
                    now = time.monotonic()
                    if now < next_at:
                        self.metrics.inc("thinned", len(objs))
                        continue
                    next_at = now + interval * 0.9  # a little slack for the engine's jitter
                    if len(objs) > 1:
                        self.metrics.inc("thinned", len(objs) - 1)
                        objs = objs[-1:]
                if objs:
                    await self._emit(objs, label, info)
            tail = [o for o in dec.close() if self._valid(o)]
            if tail:
                await self._emit(tail[-1:] if interval else tail, label, info)

    def _valid(self, o: dict[str, Any]) -> bool:
        if "cpu_stats" in o or "memory_stats" in o:
            return True
        msg = o.get("message") or o.get("cause")
        self.reject("bad_stats", f"not a stats object: {str(msg or o)[:120]}")
        return False

    async def _emit(self, objs: list[dict[str, Any]], label: str, info: ContainerInfo) -> None:
        batch = []
        for o in objs:
            read = o.get("read")
            t = time.time()
            if isinstance(read, str) and read != ZERO_TIME:
                try:
                    t = parse_time(read)
                except ValueError:
                    pass
            batch.append(
                Message(
                    label,
                    t,
                    KIND_METRIC,
                    id=f"{info.id}:stats:{read}",
                    fields={"stats": o},
                    container=info,
                )
            )
        self.metrics.received += len(batch)
        if batch:
            await self.emit(batch)
