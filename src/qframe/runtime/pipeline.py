"""The compiled graph of plugin instances and its life: start, run, drain, stop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RequestTimeout, StartupError, UnknownTarget
from ..plugin import Collector, Plugin
from ..telemetry import PluginMetrics
from .node import Node

if TYPE_CHECKING:
    from ..config import PipelineSpec

log = logging.getLogger("qframe.runtime")

__all__ = ["Pipeline"]


class Pipeline:
    """Build with a validated :class:`~qframe.config.PipelineSpec` and the plugin classes."""

    def __init__(self, spec: PipelineSpec, classes: dict[tuple[str, str], type[Plugin]]) -> None:
        self.spec = spec
        self.tick = spec.tick
        self.data_dir = Path(spec.data_dir)
        self.shutdown_timeout = spec.shutdown_timeout
        self.nodes: dict[str, Node] = {}  # "type.name" -> node
        self._by_name: dict[str, list[Node]] = {}
        for inst in spec.instances:
            node = Node(self, inst, classes[(inst.type, inst.kind)])
            self.nodes[inst.key] = node
            self._by_name.setdefault(inst.name, []).append(node)
        for inst in spec.instances:
            node = self.nodes[inst.key]
            mode = {"true": True, "false": False, "any": None}[inst.options.source_success]
            for up_key in inst.resolved_inputs:
                up = self.nodes[up_key]
                up.subs.append((node, mode))
                node.upstreams.append(up)
            node.live_upstreams = len(node.upstreams)
        self._tickers: list[asyncio.Task[Any]] = []
        self._http: Any = None
        self._stopping = False
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
                try:
                    await node.plugin.stop()
                except Exception:
                    log.exception("stop of %s failed", node.name)
            raise
        self._start_tickers()
        for node in self.topo_order():
            node.launch()
        log.info("pipeline started: %d instances", len(self.nodes))
        asyncio.get_running_loop().create_task(self._watch())

    def _start_tickers(self) -> None:
        groups: dict[float, list[Node]] = {}
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

    async def _watch(self) -> None:
        await asyncio.gather(*(n.finished.wait() for n in self.nodes.values()))
        await self._close()

    async def _close(self) -> None:
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
                await node.stop_collector()
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
            return True
        except TimeoutError:
            pending = [n.name for n in self.nodes.values() if not n.finished.is_set()]
            log.error("shutdown timeout: %s did not drain; cancelling", ", ".join(pending))
            for n in self.nodes.values():
                n.cancel()
                n.finished.set()
            await self._close()
            return False
