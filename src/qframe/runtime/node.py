"""A running plugin instance: its inbox, its subscribers, its loop and its supervision."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from itertools import compress
from operator import is_
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batch import Runs, UniformBatch, read_ends
from ..message import Message
from ..ops.tap import instance_json, tap_batch
from ..plugin import Collector, Filter, Handler, Plugin, ack
from ..retry import backoff
from ..telemetry import PluginMetrics
from .channel import TICK, Channel

if TYPE_CHECKING:
    from ..config import InstanceSpec
    from .pipeline import Pipeline
    from .workers import ParallelRunner

log = logging.getLogger("qframe.runtime")

MAX_BATCH = 4096
HANDLER_ATTEMPTS = 5
BACKOFF_MAX = 60.0


#: the batch types whose makers promise their messages differ only in their texts
_READS = (UniformBatch, Runs)


def _heads(batch: list[Message]) -> list[Message] | None:
    """The first message of each read of a :class:`~qframe.batch.UniformBatch` or
    :class:`~qframe.batch.Runs`: each speaks for its read (whose messages differ only in
    their text and id); None for another batch."""
    ends = read_ends(batch)
    if ends is None:
        return None
    # (an empty read, as a payload's empty run record decodes to, has no first message)
    return [batch[i] for i, end in zip([0, *ends], ends, strict=False) if i < end]


def _start_paths(batch: list[Message], name: str) -> None:
    """A collector's messages whose source_path is empty start it with the collector."""
    heads = _heads(batch)
    # (comprehensions: 3.11 specializes their slot reads, half the cost of map(attrgetter))
    if all([m.source_path for m in (batch if heads is None else heads)]):
        return  # collectors usually set it themselves
    for m in batch:
        if not m.source_path:
            m.source_path.append(name)


def _extend_paths(batch: list[Message], name: str) -> None:
    """Append ``name`` to every message's source_path (it runs for every hop). A plain
    loop: Python 3.11 specializes its slot read and list append (18 ns a message here),
    where ``map(methodcaller("append", …))`` costs 110."""
    for m in batch:
        m.source_path.append(name)


class Node:
    """Glue between one plugin instance and the pipeline."""

    def __init__(self, pipeline: Pipeline, spec: InstanceSpec, cls: type[Plugin]) -> None:
        self.pipeline = pipeline
        self.spec = spec
        self.name = spec.name
        self.type = spec.type
        self.metrics = PluginMetrics(spec.name, spec.kind, spec.type, cls.metric_specs())
        opts = spec.options
        self.tick_interval = opts.ticker_ms / 1000 if opts.ticker_ms else pipeline.tick
        # subscribers: (node, mode) with mode True / False / None (any)
        self.subs: list[tuple[Node, bool | None]] = []
        self.upstreams: list[Node] = []
        self.live_upstreams = 0
        self.inbox: Channel | None = Channel(opts.queue_size) if spec.inputs else None
        if self.inbox is not None:
            inbox = self.inbox
            self.metrics.queue_depth = inbox.__len__
            self.metrics.queue_capacity = inbox.capacity
        self.plugin: Plugin
        if opts.workers > 1 and issubclass(cls, Collector):  # its work shared by processes
            from .sharing import SharedCollector

            self.plugin = SharedCollector(cls, spec.name, opts, self)
        else:
            self.plugin = cls(spec.name, opts, self)
        #: the instance's ``when`` condition, compiled (None: every message)
        self.when = None
        if opts.when:  # (imported here: the condition language and worker processes are
            from ..condition import compile_condition  # not loaded by a pipeline without them)

            self.when = compile_condition(opts.when).test
        self.finished = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[Any] | None = None
        self._receiver: asyncio.Task[Any] | None = None
        self._finishing = False
        self.handled = 0  # a handler's messages whose handle() returned (the run's summary)
        # a reload that keeps this (collector) node: its emits wait at the gate until the
        # next pipeline took it over; ``_emitting`` counts the emits in flight
        self._gate: asyncio.Future[None] | None = None
        self._emitting = 0
        self._idle: asyncio.Future[None] | None = None
        self._held: list[list[Message]] = []
        self._held_count = 0
        #: the clients tapping this node's output (qframe.ops.tap); empty: no cost
        self.taps: list[Any] = []
        self.tap_name = instance_json(spec.name)
        self.gated_at = 0.0  # when its gate closed (the reload's pause, logged)
        #: a filter's worker processes (``workers``; 1: the filter runs in this process)
        self.workers = opts.workers if isinstance(self.plugin, Filter) else 1

    def __repr__(self) -> str:
        return f"<Node {self.type}.{self.name}>"

    # -- emitting ------------------------------------------------------------------
    def _route(self, batch: list[Message]) -> list[tuple[Node, list[Message]]]:
        """Split a batch over the subscribers; copies for fan-out, acks for nobody's."""
        subs = self.subs
        self.metrics.emitted += len(batch)
        if self.taps:
            tap_batch(self, batch)
        if len(subs) == 1:
            node, mode = subs[0]
            if mode is None:
                return [(node, batch)]
            heads = _heads(batch)
            if heads is not None:  # a read's first message speaks for it
                ok = [m.source_success is mode for m in heads]
                if all(ok):
                    return [(node, batch)]
                if not any(ok):
                    ack(batch)
                    return []
            elif mode is True and all([m.source_success for m in batch]):  # the usual case
                return [(node, batch)]
            sel = [m for m in batch if m.source_success is mode]
            if len(sel) != len(batch):
                ack(m for m in batch if m.source_success is not mode)
            return [(node, sel)] if sel else []
        if not subs:
            ack(batch)
            return []
        outs: list[list[Message]] = [[] for _ in subs]
        for m in batch:
            taken = 0
            for i, (_node, mode) in enumerate(subs):
                if mode is None or m.source_success is mode:
                    if taken:
                        outs[i].append(m.copy())
                    else:
                        outs[i].append(m)
                    taken += 1
            d = m.ack
            if d is not None:
                if taken == 0:
                    d.done()
                elif taken > 1:
                    d.pending += taken - 1
        return [(subs[i][0], out) for i, out in enumerate(outs) if out]

    async def emit(self, batch: list[Message]) -> None:
        if not batch:
            return
        while self._gate is not None:  # a reload is moving this node to the next pipeline
            await asyncio.shield(self._gate)
        if self.type == "collector":
            _start_paths(batch, self.name)
        self._emitting += 1
        try:
            for node, part in self._route(batch):
                inbox = node.inbox
                assert inbox is not None
                if inbox.closed or not await inbox.put(part):
                    node.metrics.drop("closed", len(part))
                    ack(part)
        finally:
            self._emitting -= 1
            idle = self._idle
            if not self._emitting and idle is not None and not idle.done():
                idle.set_result(None)

    def emit_nowait(self, batch: list[Message]) -> bool:
        if self._gate is not None:
            # held for the next pipeline, as much as one full queue would hold
            if self._held_count + len(batch) > self.spec.options.queue_size:
                return False
            if self.type == "collector":
                _start_paths(batch, self.name)
            self._held.append(batch)
            self._held_count += len(batch)
            return True
        if any(node.inbox is not None and node.inbox.full for node, _ in self.subs):
            return False
        if self.type == "collector":
            _start_paths(batch, self.name)
        for node, part in self._route(batch):
            assert node.inbox is not None
            node.inbox.put_nowait(part)
        return True

    # -- reload: a kept node moves to the next pipeline -------------------------------------
    async def close_gate(self) -> None:
        """Make new emits wait (``emit_nowait`` holds its batches) until :meth:`rebind`;
        return once no emit is in flight, so that nothing more goes to the old subscribers."""
        loop = asyncio.get_running_loop()
        if self._gate is None:
            self._gate = loop.create_future()
            self.gated_at = time.monotonic()
        while self._emitting:
            self._idle = loop.create_future()
            await self._idle
        self._idle = None

    def detach(self, keep: set[str]) -> None:
        """Leave the old pipeline: its subscribers (but kept nodes) see this upstream end."""
        subs, self.subs = self.subs, []
        if self.finished.is_set():
            return  # _finish told them already
        for node, _ in subs:
            if node.spec.key not in keep:
                node.upstream_finished()

    def rebind(
        self, pipeline: Pipeline, spec: InstanceSpec, subs: list[tuple[Node, bool | None]]
    ) -> None:
        """Join ``pipeline`` (already started) with its subscribers and open the gate."""
        self.pipeline = pipeline
        self.spec = spec
        opts = spec.options
        self.tick_interval = opts.ticker_ms / 1000 if opts.ticker_ms else pipeline.tick
        self.subs = subs
        if self.finished.is_set():  # it ended during the reload: they must not wait for it
            for node, _ in subs:
                node.upstream_finished()
        held, self._held, self._held_count = self._held, [], 0
        for batch in held:
            for node, part in self._route(batch):
                assert node.inbox is not None
                node.inbox.push(part)
        gate, self._gate = self._gate, None
        if gate is not None and not gate.done():
            gate.set_result(None)

    # -- background tasks -------------------------------------------------------------
    def spawn(self, coro: Awaitable[Any], name: str = "") -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self.metrics.errors += 1
                self.plugin.log.error(
                    "task %s failed: %r",
                    name or t.get_name(),
                    t.exception(),
                    exc_info=t.exception(),
                )

        task.add_done_callback(done)
        return task

    async def cancel_tasks(self) -> None:
        tasks = list(self.tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- running -----------------------------------------------------------------------
    def launch(self) -> None:
        p = self.plugin
        if isinstance(p, Collector):
            self._main = asyncio.create_task(self._run_collector(), name=f"collector.{self.name}")
            if self.inbox is not None:
                self._receiver = asyncio.create_task(self._consume(), name=f"receiver.{self.name}")
        else:
            self._main = asyncio.create_task(self._consume(), name=f"{self.type}.{self.name}")

    async def _run_collector(self) -> None:
        p = self.plugin
        assert isinstance(p, Collector)
        attempt = 0
        try:
            while True:
                started = time.monotonic()
                try:
                    p.set_health("ok")
                    await p.run()
                    break  # no more input
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if time.monotonic() - started > BACKOFF_MAX:
                        attempt = 0
                    attempt += 1
                    delay = backoff(attempt)
                    self.metrics.errors += 1
                    self.metrics.restarts += 1
                    p.set_health("degraded", f"{type(exc).__name__}: {exc}")
                    p.log.error("failed: %r; restarting in %.1fs", exc, delay, exc_info=exc)
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:
            pass
        finally:
            if self._receiver is None or self._receiver.done():  # inputs ended first
                await self._finish()

    async def _consume(self) -> None:
        inbox = self.inbox
        assert inbox is not None
        p = self.plugin
        name = self.name
        metrics = self.metrics
        is_filter = isinstance(p, Filter)
        is_handler = isinstance(p, Handler)
        runner = await self._start_workers() if is_filter and self.workers > 1 else None
        aborted = False
        try:
            while True:
                item = await inbox.get(MAX_BATCH)
                if item is None:
                    break
                if item is TICK:
                    if runner is not None:
                        runner.tick()
                    else:
                        await self._tick_once()
                    continue
                batch: list[Message] = item  # type: ignore[assignment]
                metrics.received += len(batch)
                _extend_paths(batch, name)
                if runner is not None:
                    await runner.put(batch)
                elif is_filter:
                    if self.when is not None:
                        out = await self._filter_when(p, batch)  # type: ignore[arg-type]
                    else:
                        out = await self._filter(p, batch)  # type: ignore[arg-type]
                    await self.emit(out)
                elif is_handler:
                    if self.when is not None:
                        batch = self._taken(batch)
                        if not batch:
                            continue
                    if self.taps:
                        tap_batch(self, batch)
                    await self._handle(p, batch)  # type: ignore[arg-type]
                else:
                    try:
                        await p.receive(batch)  # type: ignore[attr-defined]
                    except Exception as exc:
                        metrics.errors += 1
                        p.log.error("receive failed: %r", exc, exc_info=exc)
                    ack(batch)
        except asyncio.CancelledError:
            aborted = True
            raise
        finally:
            if runner is not None:
                if aborted:
                    runner.abort()
                else:
                    await runner.finish()  # drain: what is in the workers comes out
            # a collector with inputs whose inputs ended: its own run() goes on
            if self._receiver is None or self._main is None or self._main.done():
                await self._finish()

    async def _start_workers(self) -> ParallelRunner | None:
        """The filter's worker processes; None (it runs here) when they cannot start."""
        from .workers import ParallelRunner

        runner = ParallelRunner(self, self.workers)
        try:
            await runner.start()
        except Exception as exc:
            self.metrics.errors += 1
            self.plugin.set_health("degraded", f"workers failed to start: {exc}")
            self.plugin.log.error(
                "its %d workers failed to start (%r): it runs in the main process",
                self.workers,
                exc,
            )
            return None
        return runner

    def _holds(self, batch: list[Message]) -> list[bool]:
        """The ``when`` condition of each message (one that fails to evaluate: False)."""
        test = self.when
        assert test is not None
        try:
            return list(map(test, batch))
        except Exception:  # never expected (conditions do not raise): isolate it
            flags = []
            for m in batch:
                try:
                    flags.append(bool(test(m)))
                except Exception as exc:
                    flags.append(False)
                    self.plugin.warn_limited("when", "condition failed on a message: %r", exc)
            return flags

    async def _filter_when(self, p: Filter, batch: list[Message]) -> list[Message]:
        """The filter on the messages its ``when`` holds for; the others pass by unchanged
        (in their place when the filter returns the messages it was given)."""
        flags = self._holds(batch)
        if all(flags):
            return await self._filter(p, batch)
        if not any(flags):
            return batch if type(batch) is list else list(batch)
        sel = list(compress(batch, flags))
        out = await self._filter(p, sel)
        if len(out) == len(sel) and all(map(is_, out, sel)):
            return list(batch)  # changed in place: the original order holds
        return out + [m for m, f in zip(batch, flags, strict=True) if not f]

    def _taken(self, batch: list[Message]) -> list[Message]:
        """A handler's messages its ``when`` holds for; the others acknowledged, counted."""
        flags = self._holds(batch)
        if all(flags):
            return batch
        left = [m for m, f in zip(batch, flags, strict=True) if not f]
        self.metrics.drop("when", len(left))
        ack(left)
        return list(compress(batch, flags))

    async def _filter(self, p: Filter, batch: list[Message]) -> list[Message]:
        try:
            out = await p.process(batch)
            # a filter may change messages in place: the batch is no longer uniform
            return list(out) if type(out) in _READS else out
        except Exception as exc:
            if len(batch) == 1:
                self.metrics.errors += 1
                p.log.error(
                    "process failed, forwarding the message unchanged: %r", exc, exc_info=exc
                )
                batch[0].add_tag("_filtererror")
                return batch
        # isolate the message(s) that made the batch fail; the others go on processed
        out: list[Message] = []
        for m in batch:
            out.extend(await self._filter(p, [m]))
        return out

    async def _handle(self, p: Handler, batch: list[Message]) -> None:
        attempt = 0
        while True:
            try:
                await p.handle(batch)
                self.handled += len(batch)
                if not p.manual_ack:
                    ack(batch)
                if attempt:
                    p.set_health("ok")
                return
            except Exception as exc:
                attempt += 1
                self.metrics.errors += 1
                if attempt >= HANDLER_ATTEMPTS:
                    p.log.error(
                        "handle failed %d times, dropping %d messages: %r",
                        attempt,
                        len(batch),
                        exc,
                        exc_info=exc,
                    )
                    self.metrics.drop("handler_error", len(batch))
                    ack(batch)
                    return
                delay = backoff(attempt)
                p.set_health("degraded", f"{type(exc).__name__}: {exc}")
                p.log.error(
                    "handle failed: %r; restarting and retrying in %.1fs", exc, delay, exc_info=exc
                )
                self.metrics.restarts += 1
                await asyncio.sleep(delay)
                try:
                    await p.stop()
                    await p.start()
                except Exception as exc2:
                    p.log.error("restart failed: %r", exc2)

    async def _tick_once(self) -> None:
        try:
            await self.plugin.on_tick()
        except Exception as exc:
            self.metrics.errors += 1
            self.plugin.log.error("tick failed: %r", exc, exc_info=exc)

    def tick(self) -> None:
        """Deliver a tick: through the inbox (serialised with batches) or directly."""
        if self.inbox is not None and isinstance(self.plugin, Filter | Handler):
            self.inbox.tick()
        else:
            self.spawn(self._tick_once(), "tick")

    async def _finish(self) -> None:
        if self._finishing:
            return
        self._finishing = True
        try:
            await self.plugin.stop()
        except Exception as exc:
            self.metrics.errors += 1
            self.plugin.log.error("stop failed: %r", exc, exc_info=exc)
        await self.cancel_tasks()
        self.plugin.set_health("stopped")
        self.finished.set()
        for node, _ in self.subs:
            node.upstream_finished()
        self.pipeline.node_finished()

    def upstream_finished(self) -> None:
        self.live_upstreams -= 1
        if self.live_upstreams <= 0 and self.inbox is not None:
            self.inbox.close()

    async def stop_collector(self) -> None:
        """Shutdown: stop producing.  The collector's stop() runs in _finish."""
        if self._main is not None and not self._main.done():
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        if self._receiver is None or self._receiver.done():
            # a task cancelled before it ran never reached its `finally`
            await self._finish()

    def where(self) -> str:
        """Where the node's main task waits, outermost first (for a stop that hangs)."""
        t = self._main
        if t is None or t.done():
            return "finished"
        parts = []
        coro: Any = t.get_coro()
        while coro is not None and getattr(coro, "cr_frame", None) is not None:
            f = coro.cr_frame
            parts.append(f"{f.f_code.co_name} ({Path(f.f_code.co_filename).name}:{f.f_lineno})")
            coro = coro.cr_await
        return " -> ".join(parts) or "?"

    def cancel(self) -> None:
        for t in (self._main, self._receiver, *self.tasks):
            if t is not None and not t.done():
                t.cancel()
