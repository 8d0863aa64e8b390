"""What the docker collectors share: options, connection with backoff, per-container tasks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..message import ContainerInfo, Message
from ..options import Duration, Field, PluginOptions
from ..plugin import Collector
from ..retry import backoff
from ..telemetry import MetricSpec
from .client import DockerClient, DockerError
from .info import ContainerCache

__all__ = [
    "START_ACTIONS",
    "STOP_ACTIONS",
    "ContainerTasks",
    "DockerCollector",
    "DockerOptions",
    "container_event",
]

#: docker-events actions after which a container runs (``running``: already at start)
START_ACTIONS = frozenset({"start", "running", "restart", "unpause"})
#: actions after which it does not (``remove`` is Podman's ``destroy``)
STOP_ACTIONS = frozenset({"die", "stop", "kill_done", "destroy", "remove", "died"})


class DockerOptions(PluginOptions):
    """Options of every plugin that talks to the Docker Engine API."""

    docker_host: str = Field(
        "",
        description="engine address: unix:///path or tcp://host:port "
        "(default $DOCKER_HOST, else unix:///var/run/docker.sock)",
    )
    api_version: str = Field(
        "auto", description="Docker API version to speak, or auto to negotiate with the engine"
    )
    tls_ca: str = Field("", description="CA certificate file for tcp:// with TLS")
    tls_cert: str = Field("", description="client certificate file for tcp:// with TLS")
    tls_key: str = Field("", description="client key file for tcp:// with TLS")
    tls_verify: bool = Field(False, description="use TLS for tcp:// even without a CA file")
    timeout: Duration = Field("10s", description="connect and request timeout (not for streams)")
    tcp_keepalive: Duration = Field(
        "30s",
        ge=0,
        description="tcp:// engines: silence before TCP keepalive probes, so a vanished "
        "engine is noticed (0: off)",
    )
    reconnect_max: Duration = Field(
        "30s", description="longest wait between attempts to reach the engine"
    )


def container_event(msg: Message) -> tuple[str, str, ContainerInfo | None] | None:
    """(action, container id, info) of a docker-events container message, else None."""
    if msg.kind != "event":
        return None
    f = msg.fields
    if f.get("type") != "container":
        return None
    action = str(f.get("action", "")).partition(":")[0]
    cid = f.get("actor_id") or (msg.container.id if msg.container else "")
    if not cid:
        return None
    return action, str(cid), msg.container


class DockerCollector(Collector):
    """Base of docker-events, docker-stats and docker-logs: one client, one cache.

    ``await self.connect()`` returns once the engine answers (immediately when it
    already did); while it does not, the plugin is ``degraded`` with the reason, a
    warning is logged at a bounded rate and attempts back off exponentially up to
    ``reconnect-max``.  Any task that finds the engine gone calls :meth:`engine_down`.
    """

    Options = DockerOptions

    exported_metrics = (
        MetricSpec("engine_errors", "counter", "times the Docker engine was found unavailable"),
        MetricSpec(
            "rejected",
            "counter",
            "bad input from the engine (docker-logs: checkpoint, checkpoint_error), by reason",
        ),
        MetricSpec("rescans", "counter", "rescans of the container list"),
    )
    options: DockerOptions

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.client = DockerClient(
            self.options.docker_host,
            api_version=self.options.api_version,
            tls_ca=self.options.tls_ca,
            tls_cert=self.options.tls_cert,
            tls_key=self.options.tls_key,
            tls_verify=self.options.tls_verify,
            timeout=self.options.timeout,
            keepalive=self.options.tcp_keepalive,
        )
        self.cache = ContainerCache(self.client)
        self._connect_lock = asyncio.Lock()
        self._down_since = 0.0

    async def stop(self) -> None:
        await self.client.close()

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        if self.client.connected:
            return
        async with self._connect_lock:
            attempt = 0
            while not self.client.connected:
                try:
                    info = await self.client.connect()
                except DockerError as exc:
                    attempt += 1
                    self.engine_down(exc)
                    await asyncio.sleep(self.backoff(attempt))
                    continue
                was_down = self._down_since
                self._down_since = 0.0
                self.set_health("ok")
                if was_down:
                    self.log.info(
                        "engine back at %s after %.1fs (API %s)",
                        self.client.shown,
                        time.monotonic() - was_down,
                        self.client.api_version,
                    )
                else:
                    self.log.info(
                        "connected to %s (%s, API %s)",
                        self.client.shown,
                        info.get("Version", "?"),
                        self.client.api_version,
                    )

    def backoff(self, attempt: int) -> float:
        return backoff(attempt, 0.25, self.options.reconnect_max)

    async def until_done(self, step: Callable[[], Awaitable[None]]) -> None:
        """Connect and run ``step``; while the engine fails, back off and do both again."""
        failures = 0
        while True:
            await self.connect()
            try:
                await step()
                return
            except DockerError as exc:
                self.engine_down(exc)
                failures += 1
                await asyncio.sleep(self.backoff(failures))

    def engine_down(self, exc: BaseException) -> None:
        """The engine went away (or never answered): degraded, and connect again later."""
        self.client.server_version = {}
        if not self._down_since:
            self._down_since = time.monotonic()
        reason = str(exc) or type(exc).__name__
        self.set_health("degraded", f"docker engine unavailable: {reason}")
        self.metrics.inc("engine_errors")
        self.warn("engine", "docker engine at %s unavailable: %s", self.client.shown, reason)

    def warn(self, key: str, fmt: str, *args: Any, every: float = 30.0) -> None:
        """Log a warning at most once per ``every`` seconds per key (with a repeat count)."""
        self.warn_limited(key, fmt, *args, every=every)

    def reject(self, reason: str, detail: str) -> None:
        """Count a piece of bad input from the engine and log it at a bounded rate."""
        self.metrics.inc("rejected", reason=reason)
        self.warn(f"rejected:{reason}", "rejected %s: %s", reason, detail)

    async def forever(self) -> None:
        await asyncio.Event().wait()

    async def rescan(self, interval: float, found: Callable[[str], None]) -> None:
        """Every ``interval`` seconds, hand the id of each running container to ``found``.

        A safety net under the event stream (an event can come late or, with some
        engines, not at all): a running container nobody follows is picked up here.
        """
        if interval <= 0:
            await self.forever()
        while True:
            await asyncio.sleep(interval)
            try:
                await self.connect()
                for c in await self.client.containers():
                    found(c["Id"])
                self.metrics.inc("rescans")
            except DockerError as exc:
                self.engine_down(exc)


class ContainerTasks:
    """One background task per container id (a stats or a log stream)."""

    def __init__(self, plugin: DockerCollector) -> None:
        self.plugin = plugin
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    def __contains__(self, cid: str) -> bool:
        t = self.tasks.get(cid)
        return t is not None and not t.done()

    def __len__(self) -> int:
        return sum(1 for t in self.tasks.values() if not t.done())

    def start(self, cid: str, make: Callable[[], Awaitable[Any]]) -> bool:
        """Start the container's task unless one runs already; True when started."""
        if cid in self:
            return False
        task = self.plugin.spawn(make(), f"{self.plugin.name}:{cid[:12]}")
        self.tasks[cid] = task

        def done(t: asyncio.Task[Any], cid: str = cid) -> None:
            if self.tasks.get(cid) is t:
                del self.tasks[cid]

        task.add_done_callback(done)
        return True

    def cancel(self, cid: str) -> None:
        t = self.tasks.pop(cid, None)
        if t is not None:
            t.cancel()
