"""docker-events: the engine's ``/events`` stream, one message per event."""

from __future__ import annotations

import time
from typing import Any

from ...docker import DockerCollector, DockerOptions, info_from_attributes
from ...docker.events import EventWatcher, event_ns
from ...message import KIND_EVENT, ContainerInfo, Message
from ...options import Field, StrList

#: actions after which the cached inspect is refreshed (new IPs, new name)
REFRESH_ACTIONS = frozenset({"start", "restart", "rename", "update", "unpause"})
GONE_ACTIONS = frozenset({"destroy", "remove"})


class DockerEventsCollector(DockerCollector):
    """Streams the Docker (or Podman) engine's events.

    At start it emits a ``running`` event for every container already running, then
    follows ``/events``.  When the engine goes away the plugin turns ``degraded``,
    reconnects with exponential backoff and resumes with ``since`` a little before
    the newest event it had seen (events seen twice are recognised and skipped), so
    nothing that happened meanwhile is lost.  Container metadata is inspected once
    per container (again on ``start``/``rename``/``update``, when IPs and names
    change) and attached to every message about it; for a container that is already
    gone it is taken from the event's attributes.

    Emits kind ``event``, one per engine event:

    - ``message``: ``<container name>: <type>.<action>`` (e.g. ``web1: container.start``)
    - ``fields.action`` (``running`` for containers found at start), ``fields.type``,
      ``fields.actor_id``, ``fields.attributes`` (the actor attributes: name, image,
      exit code, labels…)
    - ``container``: id, name, image, image_id, labels, ips, created, command,
      service_name/service_slot/task_slot (Swarm labels)
    - ``id``: ``<actor id>:<timeNano>:<action>`` (stable across a replay)
    - ``level``: 4 (warning) for a ``die`` with a non-zero exit code, 3 for ``oom``, else 6

    Example (``log`` handler, ``format: json``)::

        {"@timestamp": "2026-11-26T05:34:54.994439Z", "id": "8d82…:1795671294994439144:start",
         "kind": "event", "message": "web1: container.start", "level": 6,
         "fields": {"action": "start", "type": "container", "actor_id": "8d82…",
                    "attributes": {"name": "web1", "image": "localhost/busybox:latest"}},
         "container": {"id": "8d82…", "name": "web1", "image": "localhost/busybox:latest",
                       "ips": {"podman": "10.88.0.2"}, …}}

    Metrics: ``qframe_engine_errors_total``, ``qframe_rejected_total{reason}``
    (undecodable events).
    """

    class Options(DockerOptions):
        types: StrList = Field(
            default_factory=lambda: ["container"],
            description="event types to follow (container, image, network, volume…); empty: all",
        )
        actions: StrList = Field(
            default_factory=list,
            description="actions to keep (start, die, …; running for those found at start); "
            "empty: all",
        )
        labels: StrList = Field(
            default_factory=list,
            description="keep only events whose actor has these labels (key or key=value)",
        )
        running: bool = Field(
            True, description="emit a running event for each container already running at start"
        )

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._types = frozenset(self.options.types)
        self._actions = frozenset(self.options.actions)
        self._labels: list[tuple[str, str | None]] = []
        for spec in self.options.labels:
            k, eq, v = spec.partition("=")
            self._labels.append((k, v if eq else None))
        self.watcher = EventWatcher(self, self._filters(), self._handle, self._on_connect)

    def _filters(self) -> dict[str, list[str]]:
        f: dict[str, list[str]] = {}
        if self.options.types:
            f["type"] = list(self.options.types)
        actions = [a for a in self.options.actions if a != "running"]
        if actions:
            f["event"] = actions
        if self.options.labels:
            f["label"] = list(self.options.labels)
        return f

    async def run(self) -> None:
        await self.watcher.run()

    # -- filters applied here too (an engine may ignore some) ---------------------------------
    def _wanted(self, typ: str, action: str, attrs: dict[str, str]) -> bool:
        if self._types and typ not in self._types:
            return False
        if self._actions and action not in self._actions:
            return False
        for k, v in self._labels:
            if k not in attrs or (v is not None and attrs[k] != v):
                return False
        return True

    # -- containers running at start -------------------------------------------------------------
    async def _on_connect(self, first: bool) -> None:
        if not first or not self.options.running:
            return
        if self._types and "container" not in self._types:
            return
        now = time.time()
        batch: list[Message] = []
        for c in await self.client.containers():
            cid = c["Id"]
            item = await self.cache.get(cid)
            if item is None:  # gone since the list
                continue
            info = item.info
            attrs = {"name": info.name, "image": info.image, **info.labels}
            if not self._wanted("container", "running", attrs):
                continue
            batch.append(self._message("container", "running", cid, attrs, info, now, 0))
        self.metrics.received += len(batch)
        if batch:
            self.log.info("%d containers already running", len(batch))
            await self.emit(batch)

    # -- the stream --------------------------------------------------------------------------------
    async def _handle(self, events: list[dict[str, Any]]) -> None:
        batch: list[Message] = []
        gone: list[str] = []
        for e in events:
            try:
                typ = str(e.get("Type") or e.get("type") or "")
                action = str(e.get("Action") or e.get("status") or "")
                actor = e.get("Actor") or {}
                if not isinstance(actor, dict):
                    actor = {}
                aid = str(actor.get("ID") or e.get("id") or "")
                attrs = actor.get("Attributes") or {}
                if not isinstance(attrs, dict):
                    attrs = {}
                attrs = {str(k): str(v) for k, v in attrs.items()}
                ns = event_ns(e)
            except (TypeError, ValueError) as exc:
                self.reject("bad_event", f"{exc}: {str(e)[:120]}")
                continue
            if not typ or not action:
                self.reject("bad_event", f"no type or action: {str(e)[:120]}")
                continue
            base_action = action.partition(":")[0]
            if not self._wanted(typ, base_action, attrs):
                continue
            info: ContainerInfo | None = None
            if typ == "container" and aid:
                info = await self._container(aid, base_action, attrs)
                if base_action in GONE_ACTIONS:
                    gone.append(aid)
            t = ns / 1e9 if ns else time.time()
            batch.append(self._message(typ, action, aid, attrs, info, t, ns))
        self.metrics.received += len(events)
        if batch:
            await self.emit(batch)
        for cid in gone:
            self.cache.forget(cid)

    async def _container(self, cid: str, action: str, attrs: dict[str, str]) -> ContainerInfo:
        known = self.cache.peek(cid)
        if action not in GONE_ACTIONS:
            item = await self.cache.get(cid, refresh=action in REFRESH_ACTIONS)
            if item is not None:
                return item.info
            if known is not None:  # removed before we could look again
                self.cache.put(known)
        if known is not None:
            return known.info
        return info_from_attributes(cid, attrs)

    def _message(
        self,
        typ: str,
        action: str,
        aid: str,
        attrs: dict[str, str],
        info: ContainerInfo | None,
        t: float,
        ns: int,
    ) -> Message:
        who = (info.name if info else "") or attrs.get("name") or aid[:12]
        level = 6
        base = action.partition(":")[0]
        if base == "oom":
            level = 3
        elif base in ("die", "died"):
            code = attrs.get("exitCode") or attrs.get("containerExitCode") or "0"
            if code not in ("0", ""):
                level = 4
        return Message(
            f"{who}: {typ}.{action}",
            t,
            KIND_EVENT,
            level=level,
            id=f"{aid}:{ns or int(t * 1e9)}:{action}",
            fields={"action": action, "type": typ, "actor_id": aid, "attributes": attrs},
            container=info,
        )
