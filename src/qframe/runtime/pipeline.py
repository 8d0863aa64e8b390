"""The compiled graph of plugin instances and its life: start, run, drain, stop."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RequestTimeout, StartupError, UnknownTarget
from ..plugin import Collector, Plugin, ack
from ..telemetry import PluginMetrics
from .node import Node

if TYPE_CHECKING:
    from ..config import PipelineSpec

log = logging.getLogger("qframe.runtime")

__all__ = ["Pipeline"]


class Pipeline:
    """Build with a validated :class:`~qframe.config.PipelineSpec` and the plugin classes."""

    def __init__(
        self,
        spec: PipelineSpec,
        classes: dict[tuple[str, str], type[Plugin]],
        kept: dict[str, Node] | None = None,
    ) -> None:
        """``kept``: running collector nodes of the previous pipeline (a reload) that join
        this one as they are; :meth:`start` wires them to their new subscribers."""
        self.spec = spec
        self.tick = spec.tick
        self.data_dir = Path(spec.data_dir)
        self.shutdown_timeout = spec.shutdown_timeout
        self.nodes: dict[str, Node] = {}  # "type.name" -> node
        self.kept: dict[str, Node] = dict(kept or {})
        self._by_name: dict[str, list[Node]] = {}
        self._specs = {inst.key: inst for inst in spec.instances}
        for inst in spec.instances:
            node = self.kept.get(inst.key) or Node(self, inst, classes[(inst.type, inst.kind)])
            self.nodes[inst.key] = node
            self._by_name.setdefault(inst.name, []).append(node)
        # a kept node keeps emitting to its old subscribers until start(): its new ones wait
        self._kept_subs: dict[str, list[tuple[Node, bool | None]]] = {k: [] for k in self.kept}
        for inst in spec.instances:
            node = self.nodes[inst.key]
            mode = {"true": True, "false": False, "any": None}[inst.options.source_success]
            for up_key in inst.resolved_inputs:
                up = self.nodes[up_key]
                subs = self._kept_subs[up_key] if up_key in self.kept else up.subs
                subs.append((node, mode))
                if inst.key not in self.kept:  # a kept node's inputs are kept ones: as they were
                    node.upstreams.append(up)
            if inst.key not in self.kept:
                node.live_upstreams = len(node.upstreams)
        self._tick_groups: dict[float, list[Node]] = {}
        self._tickers: list[asyncio.Task[Any]] = []
        self._http: Any = None
        self._stopping = False
        self._closing = False
        #: a reload's pipeline: when its start fails, its started instances leave their
        #: sockets to the restarted old config (Plugin.hand_over)
        self.hand_back = False
        self.done = asyncio.Event()

    # -- lookup and Back channel ---------------------------------------------------------
    def find(self, name: str) -> Node | None:
        if name in self.nodes:
            return self.nodes[name]
        nodes = self._by_name.get(name)
        if not nodes:
            return None
        # a bare name shared by several types: prefer the one that answers requests
        for n in nodes:
            if type(n.plugin).on_request is not Plugin.on_request:
                return n
        return nodes[0]

    async def request(self, target: str, request: Any, timeout: float) -> Any:
        node = self.find(target)
        if node is None:
            raise UnknownTarget(f"no plugin instance named {target!r}")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        node.plugin.on_request(request, fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise RequestTimeout(f"{target} did not answer {request!r} within {timeout}s") from exc

    @property
    def metrics(self) -> list[PluginMetrics]:
        return [n.metrics for n in self.nodes.values()]

    # -- life ------------------------------------------------------------------------------
    def topo_order(self) -> list[Node]:
        """Upstream first (collectors, then filters, then handlers)."""
        order: list[Node] = []
        seen: set[str] = set()

        def visit(n: Node) -> None:
            if n.spec.key in seen:
                return
            seen.add(n.spec.key)
            for u in n.upstreams:
                visit(u)
            order.append(n)

        for n in self.nodes.values():
            visit(n)
        return order

    async def start(self) -> None:
        """Start plugins downstream first, so that handlers are ready before data flows."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started: list[Node] = []
        try:
            for node in reversed(self.topo_order()):
                if node.spec.key in self.kept:
                    continue  # running already
                try:
                    await node.plugin.start()
                except Exception as exc:
                    raise StartupError(f"{node.type}.{node.name}: {exc}") from exc
                started.append(node)
                node.plugin.set_health("ok")
            if self.spec.http:
                from ..http import start_http_server

                self._http = await start_http_server(self, self.spec.http)
        except BaseException:
            for node in started:
                if self.hand_back:
                    # a reload: the old config, restarted, takes over what it serves on
                    # (its instance of the same name adopts this one)
                    node.plugin.hand_over(node.plugin)
                try:
                    await node.plugin.stop()
                except Exception:
                    log.exception("stop of %s failed", node.name)
            stranded = 0
            for node in self.nodes.values():
                if node.inbox is not None and node.spec.key not in self.kept:
                    left = len(node.inbox.take_all())
                    if left:
                        node.metrics.drop("reload_failed", left)
                        stranded += left
            if stranded:  # read by collectors that started before the failure
                log.error(
                    "%d message(s) read before the start failed were not delivered "
                    "(a source with a checkpoint reads them again)",
                    stranded,
                )
            raise
        for node in self.topo_order():
            if node.spec.key not in self.kept:
                node.launch()
        paused = 0.0
        for key, node in self.kept.items():
            if node.gated_at:
                paused = max(paused, time.monotonic() - node.gated_at)
            node.rebind(self, self._specs[key], self._kept_subs[key])
        self._start_tickers()
        log.info(
            "pipeline started: %d instances%s",
            len(self.nodes),
            f" ({len(self.kept)} kept running: {', '.join(self.kept)}; their output waited "
            f"{paused * 1000:.0f} ms)"
            if self.kept
            else "",
        )
        self.node_finished()

    def _start_tickers(self) -> None:
        groups = self._tick_groups
        for node in self.nodes.values():
            if node.plugin.wants_tick():
                groups.setdefault(node.tick_interval, []).append(node)
        for interval, nodes in groups.items():
            self._tickers.append(asyncio.create_task(self._ticker(interval, nodes)))

    @staticmethod
    async def _ticker(interval: float, nodes: list[Node]) -> None:
        while True:
            await asyncio.sleep(interval)
            for n in nodes:
                if not n.finished.is_set():
                    n.tick()

    def node_finished(self) -> None:
        """A node finished (or left): once all have, the pipeline is done."""
        if self._closing or not all(n.finished.is_set() for n in self.nodes.values()):
            return
        self._closing = True
        asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        self._closing = True
        for t in self._tickers:
            t.cancel()
        self._tickers.clear()
        if self._http is not None:
            runner, self._http = self._http, None
            await runner.cleanup()
        self.done.set()

    async def wait(self) -> None:
        await self.done.wait()

    async def shutdown(self, timeout: float | None = None) -> bool:
        """Stop the collectors, let in-flight messages drain, stop everything.

        Returns True when everything drained within the timeout.
        """
        if self._stopping:
            await self.done.wait()
            return True
        self._stopping = True
        timeout = self.shutdown_timeout if timeout is None else timeout
        log.info(
            "shutting down: collectors stop, in-flight messages drain (timeout %.1fs)", timeout
        )
        for node in self.nodes.values():
            if isinstance(node.plugin, Collector):
                await self._stop_collector(node, timeout)
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
            return True
        except TimeoutError:
            pending = [n.name for n in self.nodes.values() if not n.finished.is_set()]
            log.error("shutdown timeout: %s did not drain; cancelling", ", ".join(pending))
            self._abandon()
            await self._close()
            return False

    async def _stop_collector(self, node: Node, timeout: float) -> None:
        """A collector's stop is bounded too: a stop that hangs must not keep qframe up."""
        stopping = asyncio.ensure_future(node.stop_collector())
        done, _ = await asyncio.wait({stopping}, timeout=timeout)
        if not done:
            node.metrics.errors += 1
            log.error(
                "collector %s did not stop within %.1fs (waiting in %s); cancelled",
                node.name,
                timeout,
                node.where(),
            )
            node.cancel()

    def _abandon(self) -> None:
        """Cancel every node; what their queues still hold is counted as dropped."""
        for n in self.nodes.values():
            n.cancel()
            if n.inbox is not None:
                left = n.inbox.take_all()
                if left:
                    n.metrics.drop("shutdown_timeout", len(left))
                    ack(left)
                n.inbox.close()
            n.finished.set()

    async def retire(self, keep: set[str], timeout: float | None = None) -> bool:
        """Reload: stop the collectors but those in ``keep`` and drain the rest.

        The kept collectors go on running: their emits wait until the next pipeline takes
        them over (:meth:`start` of a pipeline built with ``kept``), they leave this one
        once none of their emits is in flight, and what they emitted before drains here.
        Returns True when everything drained within the timeout.
        """
        self._stopping = True
        timeout = self.shutdown_timeout if timeout is None else timeout
        kept = [self.nodes[k] for k in keep]
        log.info(
            "reload: collectors stop (%d kept running), in-flight messages drain (timeout %.1fs)",
            len(kept),
            timeout,
        )

        async def drain() -> None:
            for node in self.nodes.values():
                if isinstance(node.plugin, Collector) and node.spec.key not in keep:
                    await node.stop_collector()
            for node in kept:
                await node.close_gate()
            self._release(kept, keep)
            await self.done.wait()

        try:
            await asyncio.wait_for(drain(), timeout)
            return True
        except TimeoutError:
            self._release([n for n in kept if n.spec.key in self.nodes], keep)
            pending = [n.name for n in self.nodes.values() if not n.finished.is_set()]
            log.error("reload: %s did not drain in time; cancelling", ", ".join(pending))
            self._abandon()
            await self._close()
            return False

    def _release(self, nodes: list[Node], keep: set[str]) -> None:
        """The kept nodes leave this pipeline (their new one wires them in its start)."""
        for node in nodes:
            if node._gate is None:  # the timeout came first: no emit may reach us any more
                node._gate = asyncio.get_running_loop().create_future()
            node.detach(keep)
            self.nodes.pop(node.spec.key, None)
            for group in self._tick_groups.values():
                if node in group:
                    group.remove(node)
        self.node_finished()
