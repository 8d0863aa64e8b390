"""A collector whose work is shared by worker processes (``workers: N`` on tcp, gelf, file).

:class:`SharedCollector` stands in the main process for the configured collector: it
starts N processes (:mod:`qframe.runtime.collector_worker`), each running the collector
on its share of the sources, and emits what they send into the pipeline, which stays in
the main process (filters, handlers, acknowledgements, metrics, health).

- **tcp, gelf** (``shares_work = "sockets"``): the main process binds N listening
  sockets to the address with ``SO_REUSEPORT`` and gives worker *i* socket *i*; the
  kernel spreads new connections (UDP: datagrams, by source address and port, so the
  chunks of one GELF message meet in one process) over them. A connection lives in one
  process: its lines keep their order. The sockets stay open in the main process, so a
  worker that dies loses the connections it had accepted (their peers see a reset) but
  not those waiting in its socket's backlog, which its successor accepts.
- **file** (``shares_work = "files"``): worker *i* reads the files whose inode falls in
  its partition (a file keeps its inode when renamed by a rotation): a file is read by
  one process, in order. Its checkpoint records go to the main process, which writes
  the one checkpoint file, merged, once every worker reported
  (:meth:`~qframe.plugin.Collector.write_shared_reports`).

Each batch crosses once (:func:`~qframe.runtime.workwire.encode_batch`); a batch with
delivery tokens gets one here, whose completion is sent back so that the worker resolves
its own (positions advance only when the downstream acknowledged, as in one process).
A worker that dies is started again (with backoff when it died young); what it had sent
and was not acknowledged is read again by its successor (file: from the checkpoint, at
least once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import sys
import time
from collections import deque
from itertools import repeat
from typing import Any

import orjson

from ..batch import UniformBatch, new_logs
from ..message import KIND_LOG, Delivery, Message, SharedFields
from ..plugin import Collector, Plugin
from ..retry import backoff
from .collector_worker import BATCH, END_TO_END, LINES, RECORDS, RECORDS_HEAD, TOKENS, UNIFORM
from .workwire import HEADER, decode, decode_batch, encode

log = logging.getLogger("qframe.runtime")

START_TIMEOUT = 120.0
_B, _C, _M, _I, _E = (ord(c) for c in "BCMIE")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _lines(body: bytes, at: int) -> list[Message]:
    """The messages of a LINES batch (:func:`.collector_worker._plain_lines`)."""
    nl = body.index(b"\n", at)
    t, host, source, fields = orjson.loads(body[at:nl])
    texts = body[nl + 1 :].decode("utf-8", "surrogatepass").split("\n")
    shared = SharedFields(fields) if fields is not None else None
    return UniformBatch(new_logs(texts, t, host, source, shared))


def _records(body: bytes, at: int) -> list[Message]:
    """The messages of a RECORDS batch (:func:`.collector_worker._records`); their fields
    stay JSON until something reads them."""
    hl, tl, il = RECORDS_HEAD.unpack_from(body, at)
    a = at + RECORDS_HEAD.size
    t, host, source = orjson.loads(body[a : a + hl])
    a += hl
    texts = body[a : a + tl].decode("utf-8", "surrogatepass").split("\n")
    a += tl
    ids = body[a : a + il].decode("utf-8", "surrogatepass").split("\n")
    fields = body[a + il :].split(b"\n")
    times = t if type(t) is list else [t] * len(texts)
    out: list[Message] = []
    put = out.append
    new = Message.__new__
    for text, mid, f, tm in zip(texts, ids, fields, times, strict=True):
        m = new(Message)
        m.message = text
        m.time = tm
        m.kind = KIND_LOG
        m.level = 6
        m.host = host
        m.id = mid
        m.source_path = [source]
        m.source_success = True
        m._labels = None
        m._tags = None
        m._fields = f or None
        m.container = None
        m.metric = None
        m.ack = None
        put(m)
    return out


class _Proc:
    """One worker process."""

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.proc: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.Task[None] | None = None
        self.ready = False
        self.restarts = 0
        self.started = 0.0
        self.gen = 0  # which start: acknowledgements for an earlier one are not sent
        self.unacked = 0  # batches with tokens sent on and not acknowledged yet
        self.acks: list[int] = []
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.health: tuple[str, str] = ("ok", "")
        self.done = asyncio.Event()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def send(self, typ: int, payload: bytes = b"") -> None:
        w = self.writer
        if w is not None and not w.is_closing():
            w.write(HEADER.pack(len(payload), typ) + payload)


class SharedCollector(Collector):
    """The main process's side of a collector run by ``workers`` processes."""

    def __init__(self, cls: type[Collector], name: str, options: Any, node: Any) -> None:
        super().__init__(name, options, node)
        self.cls = cls
        self.n = int(options.workers)
        self.procs = [_Proc(i) for i in range(self.n)]
        self.sockets: list[socket.socket] = []
        self.reports: list[Any] = [None] * self.n
        self.closing = False
        self.handed: list[socket.socket] | None = None  # left for a reload's successor
        self._pass_on = False
        self._previous: SharedCollector | None = None
        self._forever: asyncio.Future[None] | None = None
        self.metrics.workers = self.stats
        self.init: dict[str, Any] = {}

    # -- reload -------------------------------------------------------------------------
    def _address(self) -> tuple[Any, ...] | None:
        return self.cls.shared_address(self.options) if self.cls.shares_work == "sockets" else None

    def hand_over(self, successor: Plugin | None) -> None:
        self._pass_on = (
            isinstance(successor, SharedCollector)
            and self._address() is not None
            and successor._address() == self._address()
        )
        for p in self.procs:
            p.send(ord("H"))

    def adopt(self, previous: Plugin) -> None:
        if isinstance(previous, SharedCollector):
            self._previous = previous

    def reload_kept(self) -> None:
        for p in self.procs:
            p.send(ord("K"))

    async def handed_over(self) -> None:
        socks, self.handed = self.handed, None
        for s in socks or ():
            s.close()

    # -- life -----------------------------------------------------------------------------
    def _bind(self) -> None:
        """N listening sockets on the address, SO_REUSEPORT (a predecessor's are reused)."""
        addr = self._address()
        assert addr is not None
        host, port, kind = addr
        prev = self._previous
        if prev is not None and prev.handed:
            self.sockets, prev.handed = prev.handed[: self.n], prev.handed[self.n :]
            port = self.sockets[0].getsockname()[1]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        while len(self.sockets) < self.n:
            s = socket.socket(family, kind)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                s.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(1024)
            except OSError:
                s.close()
                raise
            port = s.getsockname()[1]
            self.sockets.append(s)

    async def start(self) -> None:
        cls = self.cls
        pipeline = self._node.pipeline
        if cls.shares_work == "sockets":
            try:
                self._bind()
            except BaseException:
                self._close_sockets()
                raise
        self.init = {
            "cls": f"{cls.__module__}:{cls.__qualname__}",
            "name": self.name,
            "kind": self._node.spec.kind,
            "options": self.options.model_dump(mode="json", by_alias=True),
            "data_dir": str(pipeline.data_dir),
            "sys_path": sys.path,
            "tick": self._node.tick_interval,
            "workers": self.n,
            "log_level": logging.getLevelName(logging.getLogger("qframe").getEffectiveLevel())
            .lower()
            .replace("warning", "warn"),
        }
        try:
            await asyncio.gather(*(self._spawn(p) for p in self.procs))
        except BaseException:
            self._kill()
            self._close_sockets()
            raise
        host = ""
        if self.sockets:
            name = self.sockets[0].getsockname()
            host = f" on {name[0]}:{name[1]}"
        self.log.info(
            "%d worker processes share the work%s (pids %s)",
            self.n,
            host,
            ", ".join(str(p.pid) for p in self.procs),
        )

    async def _spawn(self, p: _Proc) -> None:
        loop = asyncio.get_running_loop()
        r1, w1 = os.pipe()  # to the worker
        r2, w2 = os.pipe()  # from the worker
        try:
            import fcntl

            fcntl.fcntl(r2, 1031, 1 << 20)  # F_SETPIPE_SZ: a whole batch per write
        except OSError:
            pass
        socks = [self.sockets[p.idx].fileno()] if self.sockets else []
        try:
            p.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "qframe.runtime.collector_worker",
                str(r1),
                str(w2),
                *map(str, socks),
                pass_fds=(r1, w2, *socks),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            os.close(r1)
            os.close(w2)
        reader = asyncio.StreamReader(limit=1 << 30, loop=loop)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(r2, "rb", 0)
        )
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(w1, "wb", 0)
        )
        p.writer = asyncio.StreamWriter(transport, protocol, None, loop)
        p.started = time.monotonic()
        p.gen += 1
        p.unacked = 0
        p.acks = []
        p.done.clear()
        p.send(_I, encode({**self.init, "worker": p.idx}))
        try:
            head = await asyncio.wait_for(reader.readexactly(HEADER.size), START_TIMEOUT)
            n, typ = HEADER.unpack(head)
            body = await reader.readexactly(n)
        except (asyncio.IncompleteReadError, TimeoutError):
            typ, body = _E, encode({"error": "exited at start"})
        if typ != _I:
            if p.proc.returncode is None:
                p.proc.kill()
            await p.proc.wait()
            raise RuntimeError(f"worker {p.idx} failed to start: {decode(body).get('error')}")
        p.ready = True
        p.reader = asyncio.create_task(self._read(p, reader), name=f"worker.{self.name}.{p.idx}")
        if self.closing:  # started again while the collector stops: it stops too
            p.send(ord("S"))

    async def run(self) -> None:
        self._forever = asyncio.get_running_loop().create_future()
        await self._forever  # the workers do the work; stop() ends them

    async def on_tick(self) -> None:
        for p in self.procs:
            if p.ready:
                p.send(ord("T"))

    async def stop(self) -> None:
        """Every worker stops (drains: what it read is emitted; a file collector waits for
        its acknowledgements, then reports its checkpoint), then exits."""
        self.closing = True
        for p in self.procs:
            p.send(ord("S"))
        try:
            await asyncio.gather(*(p.done.wait() for p in self.procs if p.reader is not None))
        except asyncio.CancelledError:
            self._kill()
            raise
        finally:
            self._write_reports()
            if self._pass_on:
                self.handed, self.sockets = self.sockets, []
            self._close_sockets()
        self.log.info("worker processes ended")

    def _close_sockets(self) -> None:
        socks, self.sockets = self.sockets, []
        for s in socks:
            s.close()

    def _kill(self) -> None:
        self.closing = True
        for p in self.procs:
            if p.proc is not None and p.proc.returncode is None:
                p.proc.kill()
            if p.reader is not None:
                p.reader.cancel()

    # -- what the workers send ----------------------------------------------------------
    async def _read(self, p: _Proc, reader: asyncio.StreamReader) -> None:
        node = self._node
        gen = p.gen
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                n, typ = HEADER.unpack(head)
                body = await reader.readexactly(n)
                if typ == _B:
                    batch = self._batch(p, gen, body)
                    self.metrics.received += len(batch)
                    await node.emit(batch)
                elif typ == _M:
                    self._worker_metrics(p, decode(body))
                elif typ == _C:
                    self.reports[p.idx] = decode(body)
                    if not self.closing:
                        self._write_reports()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:  # never expected: the worker is ended and started again
            self.metrics.errors += 1
            self.log.error("worker %d: %r", p.idx, exc, exc_info=exc)
        p.ready = False
        proc = p.proc
        assert proc is not None
        if self.closing:
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            if p.writer is not None:
                p.writer.close()
            p.done.set()
            return
        if proc.returncode is None:
            proc.kill()
        rc = await proc.wait()
        await self._restart(p, rc)

    def _batch(self, p: _Proc, gen: int, body: bytes) -> list[Message]:
        seq, flags = BATCH.unpack_from(body)
        if flags & LINES:  # a read of plain lines: built as the collector builds it
            return _lines(body, BATCH.size)
        if flags & RECORDS:
            msgs = _records(body, BATCH.size)
        else:
            msgs, _ = decode_batch(body[BATCH.size :])
        if flags & TOKENS:
            p.unacked += 1

            def delivered() -> None:
                if p.gen == gen:
                    p.unacked -= 1
                    if not p.acks:
                        asyncio.get_running_loop().call_soon(self._send_acks, p)
                    p.acks.append(seq)

            tok: Delivery | None = Delivery(len(msgs), delivered, bool(flags & END_TO_END))
        else:
            tok = None
        deque(map(setattr, msgs, repeat("ack"), repeat(tok)), maxlen=0)
        return UniformBatch(msgs) if flags & UNIFORM else msgs

    def _send_acks(self, p: _Proc) -> None:
        acks, p.acks = p.acks, []
        if acks:
            p.send(ord("A"), struct.pack(f"<{len(acks)}I", *acks))

    def _worker_metrics(self, p: _Proc, m: dict[str, Any]) -> None:
        metrics = self.metrics
        for name, labels, n in m.get("c", ()):
            metrics.inc(name, n, **labels)
        for reason, n in m.get("d", {}).items():
            metrics.drop(reason, n)
        metrics.errors += m.get("errors", 0)
        metrics.restarts += m.get("restarts", 0)
        p.gauges = {(name, tuple(sorted(labels.items()))): v for name, labels, v in m.get("g", ())}
        for key in {k for q in self.procs for k in q.gauges}:
            metrics.gauges[key] = sum(q.gauges.get(key, 0) for q in self.procs)
        state, reason = m.get("h", ("ok", ""))
        p.health = (state, reason)
        self._health()

    def _health(self) -> None:
        bad = [(q.idx, q.health) for q in self.procs if q.health[0] != "ok"]
        dead = [q.idx for q in self.procs if not q.ready and not self.closing]
        if dead:
            self.set_health("degraded", f"worker(s) {', '.join(map(str, dead))} restarting")
        elif bad:
            self.set_health("degraded", "; ".join(f"worker {i}: {h[1] or h[0]}" for i, h in bad))
        else:
            self.set_health("ok")

    def _write_reports(self) -> None:
        if all(r is not None for r in self.reports):
            try:
                self.cls.write_shared_reports(self.data_dir, self.reports)
            except OSError as exc:
                self.metrics.errors += 1
                self.warn_limited("reports", "cannot write the workers' reports: %s", exc)

    async def _restart(self, p: _Proc, rc: int) -> None:
        p.restarts += 1
        self.metrics.errors += 1
        how = f"signal {-rc}" if rc < 0 else f"exit {rc}"
        self.log.error(
            "worker %d (pid %d) died (%s) with %d batch(es) unacknowledged; restarting it",
            p.idx,
            p.pid,
            how,
            p.unacked,
        )
        if p.writer is not None:
            p.writer.close()
        p.health = ("ok", "")
        self._health()
        attempt = 0
        while not self.closing:
            if time.monotonic() - p.started < 5.0:
                attempt += 1
                await asyncio.sleep(backoff(attempt))
            try:
                await self._spawn(p)
                self._health()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.metrics.errors += 1
                self.log.error("worker %d failed to start again: %r", p.idx, exc)
                p.started = time.monotonic()
        p.done.set()

    def stats(self) -> list[dict[str, Any]]:
        return [
            {
                "worker": p.idx,
                "pid": p.pid,
                "alive": p.ready,
                "rss_bytes": _rss(p.pid) if p.ready else 0,
                "restarts": p.restarts,
                "in_flight": p.unacked,
            }
            for p in self.procs
        ]
