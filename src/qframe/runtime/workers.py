"""A filter's worker processes (``workers: N``): the pool, and the node's ordered runner.

:class:`WorkerPool` forks N processes (:mod:`qframe.runtime.worker_main`), sends each
encoded batch to the least busy one, and resolves one future per batch when its result
comes back. A worker that dies is started again (with backoff) and the batches it held are
sent again, in order; a batch that killed three workers is forwarded unchanged, tagged
``_filtererror``. :class:`ParallelRunner` is what the node uses: several batches in flight,
their results emitted in the order the batches came (with the messages a ``when`` condition
passed by in their place).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque
from itertools import compress
from operator import is_
from typing import TYPE_CHECKING, Any

from ..message import Message
from ..plugin import Filter, ack
from ..retry import backoff
from .worker_main import run_forked
from .workwire import HEADER, apply_result, decode, decode_reply, encode_batch, encode_texts

if TYPE_CHECKING:
    from .node import Node

log = logging.getLogger("qframe.runtime")

#: a batch that killed this many workers is forwarded unchanged (tagged _filtererror)
MAX_ATTEMPTS = 3
#: batches in flight per worker (one being processed, one waiting in its pipe)
DEPTH = 2
START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
_B, _K, _T, _R, _I, _E = (ord(c) for c in "BKTRIE")
_POISON: dict[str, Any] = {"poison": True}


def auto_workers() -> int:
    """The cores qframe may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Job:
    __slots__ = ("attempts", "future", "payload", "typ")

    def __init__(self, typ: int, payload: bytes, future: asyncio.Future[Any]) -> None:
        self.typ = typ  # _B: messages (encode_batch); _K: texts (encode_texts)
        self.payload = payload
        self.future = future
        self.attempts = 0


class _Child:
    """A forked worker process: waited for without a child watcher (``waitpid`` of this
    pid only, polled once its pipe ended: it is exiting then)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    async def wait(self) -> int:
        delay = 0.001
        while (rc := self.poll()) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return rc

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class _Proc:
    """One worker process and the batches it holds, oldest first."""

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.proc: _Child | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.Task[None] | None = None
        self.inflight: deque[_Job] = deque()
        self.ready = False
        self.restarts = 0
        self.started = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def send(self, typ: int, payload: bytes) -> None:
        assert self.writer is not None
        self.writer.write(HEADER.pack(len(payload), typ))
        self.writer.write(payload)


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class WorkerPool:
    def __init__(self, node: Node, n: int) -> None:
        self.node = node
        self.n = n
        self.procs = [_Proc(i) for i in range(n)]
        self.backlog: deque[_Job] = deque()
        self.closing = False
        # what a worker builds its own instance from (the options validated here)
        self.init = (
            type(node.plugin),
            node.name,
            node.spec.kind,
            node.spec.options,
            str(node.pipeline.data_dir),
            node.tick_interval,
        )

    # -- processes --------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(p) for p in self.procs))

    async def _spawn(self, p: _Proc) -> None:
        loop = asyncio.get_running_loop()
        r1, w1 = os.pipe()  # to the worker
        r2, w2 = os.pipe()  # from the worker
        for fd in (w1, r2):
            try:
                import fcntl

                fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer wake-ups per batch
            except OSError:
                pass
        # forked, not started anew: the plugin's modules, its compiled patterns and the
        # process tuning are there already (an interpreter started anew spent ~0.37
        # CPU-s importing and building them); the child leaves the parent's loop, signal
        # handlers and descriptors alone and ends with os._exit (worker_main)
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()  # or the child would write the parent's pending bytes
            except (OSError, ValueError):
                pass
        try:
            pid = os.fork()
        except OSError:
            for fd in (r1, w1, r2, w2):
                os.close(fd)
            raise
        if pid == 0:  # the worker: never returns
            run_forked(r1, w2, *self.init)
        os.close(r1)
        os.close(w2)
        p.proc = _Child(pid)
        reader = asyncio.StreamReader(limit=1 << 30, loop=loop)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(r2, "rb", 0)
        )
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(w1, "wb", 0)
        )
        p.writer = asyncio.StreamWriter(transport, protocol, None, loop)
        p.started = time.monotonic()
        head = await asyncio.wait_for(reader.readexactly(HEADER.size), START_TIMEOUT)
        n, typ = HEADER.unpack(head)
        body = await reader.readexactly(n)
        if typ != _I:
            raise RuntimeError(f"worker {p.idx} failed to start: {decode(body).get('error')}")
        p.ready = True
        p.reader = asyncio.create_task(
            self._read(p, reader), name=f"worker.{self.node.name}.{p.idx}"
        )
        # what it held when its predecessor died, then what waited for any worker
        for job in p.inflight:
            p.send(job.typ, job.payload)
        while self.backlog and len(p.inflight) < DEPTH:
            self._send(p, self.backlog.popleft())

    async def _read(self, p: _Proc, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                n, typ = HEADER.unpack(head)
                body = await reader.readexactly(n)
                if typ == _R and p.inflight:
                    job = p.inflight.popleft()
                    if not job.future.done():
                        job.future.set_result(decode_reply(body))
                    if self.backlog:
                        self._send(p, self.backlog.popleft())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        p.ready = False
        proc = p.proc
        assert proc is not None
        rc = await proc.wait()
        if self.closing and not p.inflight:
            return
        await self._restart(p, rc)

    async def _restart(self, p: _Proc, rc: int) -> None:
        node = self.node
        p.restarts += 1
        node.metrics.restarts += 1
        node.metrics.errors += 1
        how = f"signal {-rc}" if rc < 0 else f"exit {rc}"
        held = list(p.inflight)
        p.inflight.clear()
        for job in held:
            job.attempts += 1
            if job.attempts >= MAX_ATTEMPTS:
                if not job.future.done():
                    job.future.set_result(_POISON)
            else:
                p.inflight.append(job)
        node.plugin.log.error(
            "worker %d (pid %d) died (%s) holding %d batch(es); restarting it, %d to run again",
            p.idx,
            p.pid,
            how,
            len(held),
            len(p.inflight),
        )
        if p.writer is not None:
            p.writer.close()
        attempt = 0
        while True:
            if time.monotonic() - p.started < 5.0:
                attempt += 1
                await asyncio.sleep(backoff(attempt))
            try:
                await self._spawn(p)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                node.metrics.errors += 1
                node.plugin.log.error("worker %d failed to start again: %r", p.idx, exc)
                p.started = time.monotonic()

    # -- batches ----------------------------------------------------------------------
    def _send(self, p: _Proc, job: _Job) -> None:
        p.inflight.append(job)
        p.send(job.typ, job.payload)

    def submit(self, payload: bytes, typ: int = _B) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = _Job(typ, payload, fut)
        live = [p for p in self.procs if p.ready]
        if live:
            p = min(live, key=lambda q: len(q.inflight))
            if len(p.inflight) < DEPTH or not self.backlog:
                self._send(p, job)
                return fut
        self.backlog.append(job)
        return fut

    def tick(self) -> None:
        for p in self.procs:
            if p.ready:
                p.send(_T, b"")

    async def close(self) -> None:
        """End every worker (their input closed: they exit), killing what does not exit."""
        self.closing = True
        for p in self.procs:
            if p.writer is not None:
                p.writer.close()
        for p in self.procs:
            if p.proc is None:
                continue
            try:
                await asyncio.wait_for(p.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                p.proc.kill()
                await p.proc.wait()
        for p in self.procs:
            if p.reader is not None and not p.reader.done():
                p.reader.cancel()
                await asyncio.gather(p.reader, return_exceptions=True)

    def kill(self) -> None:
        self.closing = True
        for p in self.procs:
            if p.proc is not None and p.proc.returncode is None:
                p.proc.kill()
            if p.reader is not None:
                p.reader.cancel()

    def stats(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": p.idx,
                "pid": p.pid,
                "alive": p.ready,
                "rss_bytes": _rss(p.pid) if p.ready else 0,
                "restarts": p.restarts,
                "in_flight": len(p.inflight),
            }
            for p in self.procs
        ]


class ParallelRunner:
    """A filter node's batches through its pool: in flight together, emitted in order."""

    def __init__(self, node: Node, n: int) -> None:
        self.node = node
        self.pool = WorkerPool(node, n)
        self.order: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue(maxsize=DEPTH * n)
        self.emitter: asyncio.Task[None] | None = None
        self.wants_tick = node.plugin.wants_tick()
        # the filter can send a batch's texts alone (Filter.worker_texts)
        self.by_texts = type(node.plugin).worker_texts is not Filter.worker_texts

    async def start(self) -> None:
        try:
            await self.pool.start()
        except BaseException:
            self.pool.kill()
            raise
        self.node.metrics.workers = self.pool.stats
        self.emitter = asyncio.create_task(self._emit_loop(), name=f"emitter.{self.node.name}")

    async def put(self, batch: list[Message]) -> None:
        node = self.node
        flags = node._holds(batch) if node.when is not None else None
        sel = batch if flags is None or all(flags) else list(compress(batch, flags))
        fut = None
        if sel:
            try:
                texts = node.plugin.worker_texts(sel) if self.by_texts else None
                if texts is not None:
                    fut = self.pool.submit(encode_texts(texts), _K)
                else:
                    fut = self.pool.submit(encode_batch(sel))
            except Exception as exc:  # never expected: this batch runs here instead
                node.metrics.errors += 1
                node.plugin.log.error("a batch could not be sent to the workers: %r", exc)
                fut = asyncio.get_running_loop().create_future()
                fut.set_result({"local": await node._filter(node.plugin, sel)})  # type: ignore[arg-type]
        await self.order.put((batch, flags, sel, fut))

    def tick(self) -> None:
        if self.wants_tick:
            self.pool.tick()

    async def _emit_loop(self) -> None:
        node = self.node
        while (item := await self.order.get()) is not None:
            batch, flags, sel, fut = item
            try:
                if fut is None:
                    out = batch
                else:
                    res = await fut
                    if res.get("general"):  # its texts failed: the messages go
                        self._add_metrics(res)
                        res = await self.pool.submit(encode_batch(sel))
                    out = self._result(sel, res)
            except Exception as exc:  # never expected: the batch goes on as it came
                node.metrics.errors += 1
                node.plugin.log.error("a worker's result failed: %r", exc, exc_info=exc)
                out = sel
            if flags is not None and fut is not None and not all(flags):
                if len(out) == len(sel) and all(map(is_, out, sel)):
                    out = batch  # changed in place: the original order holds
                else:
                    out = out + [m for m, f in zip(batch, flags, strict=True) if not f]
            await node.emit(list(out))

    def _result(self, sel: list[Message], res: dict[str, Any]) -> list[Message]:
        node = self.node
        p = node.plugin
        if res is _POISON:
            p.log.error(
                "a batch of %d message(s) killed %d workers: forwarded unchanged, tagged "
                "_filtererror",
                len(sel),
                MAX_ATTEMPTS,
            )
            for m in sel:
                m.add_tag("_filtererror")
            return sel
        if "local" in res:
            return res["local"]  # type: ignore[no-any-return]
        try:
            if "t" in res:  # a batch that crossed as its texts
                if len(res["fields"]) != len(sel):
                    raise ValueError(f"{len(res['fields'])} results for {len(sel)} texts")
                p.apply_texts(sel, res["fields"], res["t"])
                out, dropped = sel, []
            else:
                out, dropped = apply_result(sel, res)
        except Exception as exc:
            node.metrics.errors += 1
            p.log.error("a worker's result could not be applied: %r", exc, exc_info=exc)
            for m in sel:
                m.add_tag("_filtererror")
            return sel
        if dropped:
            ack(dropped)
        self._add_metrics(res)
        return out

    def _add_metrics(self, res: dict[str, Any]) -> None:
        """What a worker counted since its previous answer (increments), to the node's."""
        m = res.get("m")
        if m:
            metrics = self.node.metrics
            for name, labels, n in m.get("c", ()):
                metrics.inc(name, n, **labels)
            for reason, n in m.get("d", {}).items():
                metrics.drop(reason, n)
            metrics.errors += m.get("e", 0)
            for name, labels, v in m.get("g", ()):
                metrics.set_gauge(name, v, **labels)

    async def finish(self) -> None:
        """Drain: every batch taken is emitted, then the workers end."""
        await self.order.put(None)
        if self.emitter is not None:
            await self.emitter
        await self.pool.close()

    def abort(self) -> None:
        if self.emitter is not None:
            self.emitter.cancel()
        self.pool.kill()
