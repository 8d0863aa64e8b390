"""A collector's worker process (``workers: N`` on tcp, gelf, file): its share of the sources.

``python -m qframe.runtime.collector_worker R W [S …]`` reads frames from fd ``R``, writes
frames to fd ``W`` and serves the listening sockets ``S`` it inherited (tcp, gelf: the
main process made them, one per worker, with ``SO_REUSEPORT``). A frame is ``length u32 |
type u8 | payload`` (:data:`~qframe.runtime.workwire.HEADER`).

It runs the collector itself, as one process would, on its share of the sources (the
connections the kernel gave its socket; the files of its partition, see
:meth:`~qframe.plugin.Collector.share_work`); what the collector emits goes to the main
process as ``B`` frames (:func:`~qframe.runtime.workwire.encode_batch`, behind a sequence
number and flags), which owns the pipeline. A batch that carried delivery tokens is
acknowledged back (``A`` frames: the sequence numbers): the worker then resolves the
collector's own tokens (the file collector's checkpoint advances only then, as in one
process). ``T`` is a tick (answered by an ``M`` frame: the metrics changed since the last,
the health), ``K`` a reload that kept the collector, ``H`` a reload that retires it, ``S``
the stop: the collector stops (a file collector waits for its acknowledgements), a last
``M`` goes out, the process exits. End of input (the main process died) stops it too.

SIGINT, SIGTERM and SIGHUP are ignored: the main process drains its workers itself.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import struct
import sys
import time
from itertools import groupby
from operator import attrgetter
from typing import Any

import orjson

from ..batch import UniformBatch
from ..logs import setup_logging
from ..message import KIND_LOG, Delivery, Message, SharedFields, json_default
from ..plugin import Collector
from ..retry import backoff
from ..telemetry import PluginMetrics
from .tuning import tune_process
from .worker_main import WorkerPipeline, counter_deltas
from .workwire import HEADER, decode, encode, encode_batch

#: a batch frame's head: sequence number, flags
BATCH = struct.Struct("<IB")
UNIFORM, TOKENS, END_TO_END, LINES, RECORDS = 1, 2, 4, 8, 16
#: a RECORDS batch's head: the lengths of its head JSON, its texts, its ids
RECORDS_HEAD = struct.Struct("<III")
#: the worker's emit waits while this many bytes wait for the pipe (backpressure)
HIGH_WATER = 1 << 20
#: seconds between two metrics reports (besides one per tick)
METRICS_EVERY = 1.0

_get_ack = attrgetter("ack")
_get_message = attrgetter("message")
_get_id = attrgetter("id")
_get_fields = attrgetter("_fields")
_get_time = attrgetter("time")


class _Given:
    """Stands for a predecessor that left the inherited sockets (SocketHandover)."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        from ..net.stream import Handoff

        self.handoff: Any = Handoff(sockets)
        self.handoff.inherited = True
        self._previous = None


class _Node:
    """The worker's stand-in for :class:`~qframe.runtime.node.Node`: emits go to the pipe."""

    def __init__(self, init: dict[str, Any], cls: type[Collector], out: _Out) -> None:
        self.metrics = PluginMetrics(init["name"], init["kind"], "collector", cls.metric_specs())
        self.pipeline = WorkerPipeline(init["data_dir"], "a collector")
        self.tick_interval = init["tick"]
        self.tasks: set[asyncio.Task[Any]] = set()
        self.out = out
        self.name = init["name"]

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)

        def done(t: asyncio.Task[Any]) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self.metrics.errors += 1
                logging.getLogger(f"qframe.plugin.{self.name}").error(
                    "task %s failed: %r", name or t.get_name(), t.exception()
                )

        t.add_done_callback(done)
        return t

    async def emit(self, batch: list[Message]) -> None:
        if batch:
            self.out.batch(batch)
            await self.out.drain()

    def emit_nowait(self, batch: list[Message]) -> bool:
        if not batch:
            return True
        if self.out.waiting() > HIGH_WATER:
            return False
        self.out.batch(batch)
        return True


class _Out:
    """The pipe to the main process and the batches it has not acknowledged yet."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.seq = 0
        self.pending: dict[int, list[tuple[Delivery, int]]] = {}

    def send(self, typ: int, payload: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionError("the main process is gone")
        self.writer.write(HEADER.pack(len(payload), typ) + payload)

    def waiting(self) -> int:
        return self.writer.transport.get_write_buffer_size()

    async def drain(self) -> None:
        if self.waiting() > HIGH_WATER:
            await self.writer.drain()

    def batch(self, batch: list[Message]) -> None:
        self.seq = seq = (self.seq + 1) & 0xFFFFFFFF
        if type(batch) is UniformBatch:
            lines = _plain_lines(batch)
            if lines is not None:  # a read of plain lines (tcp): its texts, joined
                self.send(ord("B"), BATCH.pack(seq, UNIFORM | LINES) + lines)
                return
        flags = UNIFORM if type(batch) is UniformBatch else 0
        records = _records(batch)
        if records is not None:
            flags |= RECORDS
        toks = [(d, len(list(g))) for d, g in groupby(filter(None, map(_get_ack, batch)))]
        if toks:
            flags |= TOKENS
            if any(d.end_to_end for d, _ in toks):
                flags |= END_TO_END
            self.pending[seq] = toks
        body = records if records is not None else encode_batch(batch)
        self.send(ord("B"), BATCH.pack(seq, flags) + body)

    def acked(self, data: bytes) -> None:
        for (seq,) in struct.iter_unpack("<I", data):
            for d, n in self.pending.pop(seq, ()):
                d.done(n)


def _plain_lines(batch: list[Message]) -> bytes | None:
    """A uniform read of plain log lines as ``[time, host, source, fields]`` JSON, a
    newline, the texts joined by newlines (what :func:`qframe.batch.new_logs` takes back);
    None when it is not one (a token, tags, a container, a text with a newline …)."""
    m = batch[0]
    f = m._fields
    if (
        m.ack is not None
        or m.kind != KIND_LOG
        or m.level != 6
        or m.id
        or m._tags
        or m._labels
        or m.container is not None
        or m.metric is not None
        or m.source_success is not True
        or len(m.source_path) != 1
        or not (f is None or type(f) is SharedFields)
    ):
        return None
    texts = "\n".join(map(_get_message, batch))
    if texts.count("\n") != len(batch) - 1:
        return None
    head = orjson.dumps([m.time, m.host, m.source_path[0], f])
    return head + b"\n" + texts.encode("utf-8", "surrogatepass")


def _records(batch: list[Message]) -> bytes | None:
    """A batch of log lines with their own ids and fields (a file's read) as columns: the
    head ``[time or times, host, source]``, the texts and the ids joined by newlines, the
    fields as one JSON object per line (kept as such in the main process: decoded only
    when something reads them, see :func:`qframe.message.fields_of`); None when the batch
    is not that (tags, a container, a text with a newline, a value JSON cannot carry …)."""
    m = batch[0]
    host = m.host
    path = m.source_path
    if len(path) != 1:
        return None
    for x in batch:
        if (
            x.kind != KIND_LOG
            or x.level != 6
            or x._tags
            or x._labels
            or x.container is not None
            or x.metric is not None
            or x.source_success is not True
            or x.host != host
            or x.source_path != path
        ):
            return None
    n = len(batch) - 1
    texts = "\n".join(map(_get_message, batch))
    ids = "\n".join(map(_get_id, batch))
    if texts.count("\n") != n or ids.count("\n") != n:
        return None
    try:
        fields = b"\n".join(
            [
                (f if type(f) is bytes else orjson.dumps(f, default=json_default)) if f else b""
                for f in map(_get_fields, batch)
            ]
        )
    except TypeError:
        return None
    if fields.count(b"\n") != n:
        return None
    times = list(map(_get_time, batch))
    t: Any = times[0] if times.count(times[0]) == len(times) else times
    head = orjson.dumps([t, host, path[0]])
    tb = texts.encode("utf-8", "surrogatepass")
    ib = ids.encode("utf-8", "surrogatepass")
    return b"".join((RECORDS_HEAD.pack(len(head), len(tb), len(ib)), head, tb, ib, fields))


def _delta(m: PluginMetrics, last: dict[str, Any]) -> dict[str, Any]:
    """The metrics changed since ``last`` (updated): counters and drops as increments,
    gauges as they are, the health."""
    out = counter_deltas(m, last)
    for key in ("errors", "restarts"):
        v = getattr(m, key)
        if v != last.get(key, 0):
            out[key] = v - last.get(key, 0)
            last[key] = v
    out["g"] = [[k[0], dict(k[1]), v] for k, v in m.gauges.items()]
    out["h"] = [m.state, m.state_reason]
    return out


class CollectorWorker:
    def __init__(self, init: dict[str, Any], out: _Out, sockets: list[socket.socket]) -> None:
        sys.path[:0] = [p for p in init.get("sys_path", ()) if p not in sys.path]
        mod, _, qual = init["cls"].partition(":")
        cls: Any = importlib.import_module(mod)
        for part in qual.split("."):
            cls = getattr(cls, part)
        opts = cls.Options.model_validate(init["options"])
        opts.kind = init["kind"]
        cls.kind = init["kind"]
        self.out = out
        self.node = _Node(init, cls, out)
        self.plugin: Collector = cls(init["name"], opts, self.node)
        self.plugin.share_work(init["worker"], init["workers"], self.report)
        if sockets:
            self.plugin._previous = _Given(sockets)  # type: ignore[attr-defined]
        self.last: dict[str, Any] = {}
        self.stopping = asyncio.Event()

    def report(self, data: Any) -> None:
        """What the collector's share of the work reports (a file collector's checkpoint)."""
        self.out.send(ord("C"), encode(data))

    def metrics(self) -> None:
        self.out.send(ord("M"), encode(_delta(self.node.metrics, self.last)))

    async def run(self) -> None:
        """The collector's run, restarted with backoff when it raises (as the Node does)."""
        p = self.plugin
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                p.set_health("ok")
                await p.run()
                return
            except Exception as exc:
                if time.monotonic() - started > 60:
                    attempt = 0
                attempt += 1
                delay = backoff(attempt)
                self.node.metrics.errors += 1
                self.node.metrics.restarts += 1
                p.set_health("degraded", f"{type(exc).__name__}: {exc}")
                p.log.error("failed: %r; restarting in %.1fs", exc, delay, exc_info=exc)
                await asyncio.sleep(delay)

    async def report_metrics(self) -> None:
        """The metrics every second (ticks may be rarer): /metrics stays current."""
        while True:
            await asyncio.sleep(METRICS_EVERY)
            self.metrics()

    async def control(self, reader: asyncio.StreamReader) -> None:
        p = self.plugin
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                n, typ = HEADER.unpack(head)
                data = await reader.readexactly(n)
                if typ == ord("A"):
                    self.out.acked(data)
                elif typ == ord("T"):
                    if p.wants_tick():
                        try:
                            await p.on_tick()
                        except Exception as exc:
                            self.node.metrics.errors += 1
                            p.log.error("tick failed: %r", exc, exc_info=exc)
                    self.metrics()
                elif typ == ord("K"):
                    p.reload_kept()
                elif typ == ord("H"):
                    p.hand_over(None)
                elif typ == ord("S"):
                    self.stopping.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.stopping.set()  # the main process is gone, or closed our input


async def _amain(rfd: int, wfd: int, sock_fds: list[int]) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30, loop=loop)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(rfd, "rb", 0)
    )
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(wfd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    transport.set_write_buffer_limits(high=HIGH_WATER)
    out = _Out(writer)
    try:
        head = await reader.readexactly(HEADER.size)
        n, _typ = HEADER.unpack(head)
        init = decode(await reader.readexactly(n))
    except asyncio.IncompleteReadError:
        return 0
    setup_logging(init.get("log_level", "info"))
    log = logging.getLogger(f"qframe.plugin.{init['name']}")
    sockets = [socket.socket(fileno=fd) for fd in sock_fds]
    try:
        w = CollectorWorker(init, out, sockets)
        await w.plugin.start()
    except Exception as exc:
        log.error("worker %s failed to start: %r", init.get("worker"), exc, exc_info=exc)
        out.send(ord("E"), encode({"error": repr(exc)}))
        await writer.drain()
        return 1
    tune_process()  # as qframe run does (malloc, GC): the same reads, the same allocations
    out.send(ord("I"), encode({"pid": os.getpid()}))
    control = asyncio.create_task(w.control(reader))
    runner = asyncio.create_task(w.run())
    reporter = asyncio.create_task(w.report_metrics())
    stopping = asyncio.create_task(w.stopping.wait())
    await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
    runner.cancel()
    reporter.cancel()
    await asyncio.gather(runner, reporter, return_exceptions=True)
    try:
        await w.plugin.stop()  # a file collector waits here for its acknowledgements
    except Exception as exc:
        log.error("stop failed: %r", exc, exc_info=exc)
    tasks = list(w.node.tasks)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        w.metrics()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, RuntimeError):
        pass
    control.cancel()
    stopping.cancel()
    await asyncio.gather(control, stopping, return_exceptions=True)
    return 0


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    socks = [int(a) for a in sys.argv[3:]]
    return asyncio.run(_amain(rfd, wfd, socks))


if __name__ == "__main__":
    sys.exit(main())
