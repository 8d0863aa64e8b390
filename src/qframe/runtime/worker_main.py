"""A filter's worker process (``workers: N``), forked from the main process.

:func:`run_forked` is the child's side of :func:`os.fork`: it closes every descriptor it
inherited but its two pipes (stdout and stderr stay qframe's: the plugin's log lines go
where qframe's go), leaves the parent's event loop and signal handlers alone, builds its
own instance of the plugin from the options the main process validated, and serves:
it reads frames from fd ``R`` and writes frames to fd ``W``. A frame is ``length u32 |
type u8 | payload``. It first answers ``I`` (its pid) or ``E`` (the plugin failed to
start); then ``B`` frames carry batches (:func:`~qframe.runtime.workwire.encode_batch`),
``K`` frames the texts of a batch (:func:`~qframe.runtime.workwire.encode_texts`), each
answered by one ``R`` frame in order, and ``T`` frames carry ticks. End of input:
it exits (``os._exit``: nothing of the parent's — buffered files, atexit — runs here).

SIGINT, SIGTERM and SIGHUP are ignored: a terminal's Ctrl-C or a service manager's stop
reaches the whole process group, and the main process drains its workers itself (it
closes their input once the batches in flight are back).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from ..message import Message
from ..plugin import Filter
from ..telemetry import PluginMetrics
from .workwire import (
    HEADER,
    decode_batch,
    decode_texts,
    encode,
    encode_reply,
    encode_result,
    encode_texts_reply,
)


def read_frame(f: Any) -> tuple[int, bytes] | None:
    head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    n, typ = HEADER.unpack(head)
    data = f.read(n)
    if len(data) < n:
        return None
    return typ, data


def write_frame(fd: int, typ: int, payload: bytes) -> None:
    view = memoryview(HEADER.pack(len(payload), typ) + payload)
    while view:
        k = os.write(fd, view)
        view = view[k:]


class WorkerPipeline:
    """What a plugin may reach of its pipeline from a worker process (a filter's or a
    collector's): its data directory; no Back channel, no other instance."""

    def __init__(self, data_dir: str, what: str = "a filter") -> None:
        self.data_dir = Path(data_dir)
        self.what = what

    async def request(self, target: str, request: Any, timeout: float) -> Any:
        raise RuntimeError(f"{self.what} in a worker process has no Back channel")

    def find(self, name: str) -> None:
        return None


class _Node:
    """The worker's stand-in for :class:`~qframe.runtime.node.Node`."""

    def __init__(self, name: str, kind: str, cls: type[Filter], data_dir: str, tick: float):
        self.metrics = PluginMetrics(name, kind, "filter", cls.metric_specs())
        self.pipeline = WorkerPipeline(data_dir)
        self.tick_interval = tick
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any, name: str = "") -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    async def emit(self, batch: list[Message]) -> None:
        raise RuntimeError("a filter in a worker process cannot emit on its own")

    def emit_nowait(self, batch: list[Message]) -> bool:
        raise RuntimeError("a filter in a worker process cannot emit on its own")


def counter_deltas(m: PluginMetrics, last: dict[str, Any]) -> dict[str, Any]:
    """A worker's counters and drops changed since ``last`` (updated), as increments: what
    a filter's and a collector's worker both send for the main process to add up."""
    out: dict[str, Any] = {}
    c = []
    prev_c = last.setdefault("c", {})
    for key, v in m.counters.items():
        d = v - prev_c.get(key, 0)
        if d:
            c.append([key[0], dict(key[1]), d])
            prev_c[key] = v
    if c:
        out["c"] = c
    prev_d = last.setdefault("d", {})
    d_ = {r: n - prev_d.get(r, 0) for r, n in m.dropped.items() if n != prev_d.get(r, 0)}
    if d_:
        out["d"] = d_
        prev_d.update(m.dropped)
    return out


def _delta(m: PluginMetrics, last: dict[str, Any]) -> dict[str, Any]:
    """The metrics changed since ``last`` (updated): counters and drops as increments."""
    out = counter_deltas(m, last)
    if m.errors != last.get("e", 0):
        out["e"] = m.errors - last.get("e", 0)
        last["e"] = m.errors
    if m.gauges:
        out["g"] = [[k[0], dict(k[1]), v] for k, v in m.gauges.items()]
    return out


class Worker:
    def __init__(
        self, cls: type[Filter], name: str, kind: str, options: Any, data_dir: str, tick: float
    ) -> None:
        self.node = _Node(name, kind, cls, data_dir, tick)
        self.plugin: Filter = cls(name, options, self.node)  # type: ignore[arg-type]
        self.loop = asyncio.new_event_loop()
        self.last: dict[str, Any] = {}

    def start(self) -> None:
        self.loop.run_until_complete(self.plugin.start())

    def stop(self) -> None:
        try:
            self.loop.run_until_complete(self.plugin.stop())
        finally:
            self.loop.close()

    async def _filter(self, batch: list[Message]) -> list[Message]:
        """As :meth:`Node._filter`: a batch that raises is retried message by message;
        the message that raises goes on unchanged, tagged ``_filtererror``."""
        p = self.plugin
        try:
            return list(await p.process(batch))
        except Exception as exc:
            if len(batch) == 1:
                self.node.metrics.errors += 1
                p.log.error(
                    "process failed, forwarding the message unchanged: %r", exc, exc_info=exc
                )
                batch[0].add_tag("_filtererror")
                return batch
        out: list[Message] = []
        for m in batch:
            out.extend(await self._filter([m]))
        return out

    def batch(self, data: bytes) -> bytes:
        inp, cols = decode_batch(data)
        out = self.loop.run_until_complete(self._filter(list(inp)))
        res = encode_result(inp, cols, out)
        res["m"] = _delta(self.node.metrics, self.last)
        return encode_reply(res)

    def texts(self, data: bytes) -> bytes:
        """A batch that crossed as its texts (:meth:`Filter.worker_texts`): the filter's
        :meth:`~Filter.process_texts`; when that raises, ``{"general": true}`` asks the
        main process for the messages (the general way isolates the message that fails)."""
        texts = decode_texts(data)
        metrics = None
        try:
            fields, extra = self.plugin.process_texts(texts)
            if len(fields) != len(texts):
                raise ValueError(f"{len(fields)} results for {len(texts)} texts")
            metrics = _delta(self.node.metrics, self.last)
            return encode_texts_reply(fields, extra, metrics)
        except Exception as exc:
            self.plugin.log.debug("process_texts failed (%r): the messages are sent", exc)
            if metrics is None:  # what it counted goes with the answer all the same
                metrics = _delta(self.node.metrics, self.last)
            return encode({"general": True, "m": metrics})

    def tick(self) -> None:
        try:
            self.loop.run_until_complete(self.plugin.on_tick())
        except Exception as exc:
            self.node.metrics.errors += 1
            self.plugin.log.error("tick failed: %r", exc, exc_info=exc)


def _set_name(name: str) -> None:
    """The process's name in ps and top (``/proc/<pid>/comm``, at most 15 bytes)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def _leave_parent(keep: tuple[int, ...]) -> None:
    """What the child must not share with the main process: its running loop, its signal
    handlers and wake-up fd, every descriptor but ``keep`` and stdout/stderr (sockets,
    listening ports, files, the loop's selector), its standard input."""
    asyncio.events._set_running_loop(None)
    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        try:
            if sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            elif callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def run_forked(
    rfd: int,
    wfd: int,
    cls: type[Filter],
    name: str,
    kind: str,
    options: Any,
    data_dir: str,
    tick: float,
) -> NoReturn:
    """The child of the main process's fork: serve, then ``os._exit``."""
    code = 1
    try:
        _leave_parent((rfd, wfd))
        _set_name(f"qframe-w {name}")
        # what the parent made is never freed here: out of the collector's sight, so
        # that it stays shared with the parent (no copy on write from the GC's touches)
        gc.freeze()
        code = _serve(rfd, wfd, cls, name, kind, options, data_dir, tick)
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


def _serve(
    rfd: int,
    wfd: int,
    cls: type[Filter],
    name: str,
    kind: str,
    options: Any,
    data_dir: str,
    tick: float,
) -> int:
    log = logging.getLogger(f"qframe.plugin.{name}")
    f = os.fdopen(rfd, "rb", buffering=1 << 20)
    try:
        w = Worker(cls, name, kind, options, data_dir, tick)
        w.start()
    except Exception as exc:
        log.error("worker failed to start: %r", exc, exc_info=exc)
        write_frame(wfd, ord("E"), encode({"error": repr(exc)}))
        return 1
    write_frame(wfd, ord("I"), encode({"pid": os.getpid()}))
    try:
        while (frame := read_frame(f)) is not None:
            typ, data = frame
            if typ == ord("B"):
                write_frame(wfd, ord("R"), w.batch(data))
            elif typ == ord("K"):
                write_frame(wfd, ord("R"), w.texts(data))
            elif typ == ord("T"):
                w.tick()
    except BrokenPipeError:
        return 0
    finally:
        w.stop()
    return 0
