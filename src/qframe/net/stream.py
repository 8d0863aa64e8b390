"""A framed TCP (or TLS) listener with backpressure, shared by the tcp and gelf collectors.

Each connection is an :class:`asyncio.Protocol` that appends what the socket delivers
to its own buffer and a task per connection that turns the buffer into frames
(:class:`~qframe.net.framing.Framer`) and hands them, all at once, to the
collector's ``on_frames`` coroutine, which awaits the pipeline.  While that await
lasts the buffer may grow to ``high_water`` bytes; then the transport stops reading
and the kernel's window makes the sender wait.  Nothing that was read is dropped:
at :meth:`StreamServer.close` every connection stops reading and its buffer and
last unterminated frame are still delivered.

Memory: every byte a connection holds is counted in ``buffered`` from the read until the
pipeline has taken it: read and not yet framed (plus ``READ_OVERHEAD`` per read), framed
and being handed on, and the unfinished line (frame) waiting for its delimiter.  Each connection holds at most
``high_water`` bytes of unframed reads and ``max_frame`` bytes of an unfinished frame
(a longer one is cut by the :class:`~qframe.net.framing.Framer`).  All connections
together hold at most ``max_buffered`` bytes (plus one read): when a read reaches it,
every connection stops reading until the pipeline has taken half of what is not an
unfinished frame.  Pausing alone cannot free unfinished frames (a peer that never sends
the delimiter holds its bytes for ever; once every connection does, nothing would move),
so unfinished frames may use at most half of ``max_buffered``: beyond it the one of the
connection holding the most is discarded, the rest of it up to the delimiter skipped,
and ``on_cut(conn, nbytes)`` told (the connection stays open).  With ``idle_timeout`` a
connection that sent nothing for that long is closed (what it sent is delivered).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
import ssl
import termios
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Any

from .framing import Framer

__all__ = ["Connection", "Handoff", "StreamServer"]

log = logging.getLogger("qframe.net")

HIGH_WATER = 256 << 10
LOW_WATER = 64 << 10
MAX_BUFFERED = 64 << 20
#: memory a read costs besides its bytes (its object and list slot), counted with them
READ_OVERHEAD = 64

#: (connection, frames: bytes, or str when the server decodes, indexes of cut frames)
FramesHandler = Callable[["Connection", list[Any], list[int]], Awaitable[None]]
ConnectHandler = Callable[["Connection"], Awaitable[None]]
#: (connection, bytes of its unfinished frame that were discarded)
CutHandler = Callable[["Connection", int], None]
_by_partial = attrgetter("_partial")


class Connection(asyncio.Protocol):
    """One accepted connection: its peer address, its buffer and its reading state.

    Its bytes counted in ``server.buffered``: ``_size`` read and not yet framed,
    ``_inflight`` framed and being handed on, ``_partial`` its unfinished frame.
    """

    def __init__(self, server: StreamServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.ip = ""
        self.port = 0
        self.context: Any = None  # set by the collector's on_connect (e.g. a ContainerInfo)
        self.handed_over = False  # served by a predecessor before a reload (take_over)
        self._set_framer(Framer(server.max_frame, server.delimiter, server.strip_cr))
        self._chunks: list[bytes] = []
        self._size = 0
        self._inflight = 0
        self._partial = 0
        self._ended = False
        self._paused = False
        self._eof = False
        self._detached = False  # a reload hands it to another server (Handoff)
        self._shut = False  # closed by the server (StreamServer.close), not by the peer
        self._waiter: asyncio.Future[None] | None = None
        self.bytes_in = 0
        self.last_data = time.monotonic()

    def _set_framer(self, framer: Framer) -> None:
        self.framer = framer
        enc = self.server.encoding
        self._feed: Callable[[bytes], list[Any]] = (
            framer.feed if enc is None else partial(framer.feed_text, encoding=enc)
        )

    # -- protocol callbacks (the event loop calls these) ---------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.ip, self.port = str(peer[0]), int(peer[1])
            if self.ip.startswith("::ffff:"):
                self.ip = self.ip[7:]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        self.server._accepted(self)

    def data_received(self, data: bytes) -> None:
        if self._ended:  # its task is over (cannot happen once the transport is closed)
            return
        self._chunks.append(data)
        self.bytes_in += len(data)
        n = len(data) + READ_OVERHEAD  # a trickle of tiny reads costs its objects too
        self._size += n
        self.last_data = time.monotonic()
        srv = self.server
        srv.buffered += n
        if srv.buffered > srv.peak:
            srv.peak = srv.buffered
        if not self._paused:
            if srv.buffered >= srv.max_buffered:
                srv._hold_all()  # this connection as well
            elif self._size >= srv.high_water:
                self._paused = True
                self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # we never write: close our side as well

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self.server._held.discard(self)
        self._wake()

    # -- consumer side -------------------------------------------------------------------
    def _wake(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    async def _wait(self) -> None:
        if self._chunks or self._eof or self._detached:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    def _frame(self) -> tuple[list[Any], list[int]]:
        """The frames completed by what was read, and the indexes of those cut.

        What was read now counts as being handed on (until :meth:`_handed_on`), but for
        what went into the unfinished frame.
        """
        chunks = self._chunks
        if not chunks:
            return [], []
        self._chunks = []
        self._inflight += self._size
        self._size = 0
        feed = self._feed
        framer = self.framer
        frames = feed(chunks[0])
        cut = framer.cut
        for c in chunks[1:]:  # each read split on its own: no copy of the buffer
            more = feed(c)
            if framer.cut:
                cut = cut + [len(frames) + i for i in framer.cut]
            frames += more
        if framer.pending != self._partial:
            self._account()
        return frames, cut

    def _finish(self) -> tuple[list[Any], list[int]]:
        """At end of stream: the unfinished frame, if any, as the last frame."""
        framer = self.framer
        frames: list[Any] = framer.finish()
        enc = self.server.encoding
        if frames and enc is not None:
            frames = [f.decode(enc, "replace") for f in frames]
        self._account()
        return frames, framer.cut

    def _account(self) -> None:
        """Count the change of the unfinished frame (bytes move between it and the frames
        being handed on); discard the largest unfinished frames when they use too much."""
        moved = self.framer.pending - self._partial
        if moved:
            self._partial += moved
            self._inflight -= moved
            srv = self.server
            srv.partial += moved
            if srv.partial > srv.max_partial:
                srv._cut_partial()

    def _handed_on(self) -> None:
        """The frames of the last :meth:`_frame` were taken by the pipeline."""
        n = self._inflight
        if n:
            self._inflight = 0
            self.server._drained(n)

    def _forget(self) -> None:
        """The connection's task is over: nothing of it is held any more."""
        self._ended = True
        srv = self.server
        srv.partial -= self._partial
        n = self._size + self._inflight + self._partial
        self._chunks = []
        self._size = self._inflight = self._partial = 0
        srv._held.discard(self)
        if n:
            srv._drained(n)

    def _resume(self) -> None:
        if not self._paused or self._eof or self._detached or self._size > LOW_WATER:
            return
        srv = self.server
        if not srv._can_resume():
            srv._held.add(self)  # the connections' total is too high: wait for _release
            return
        srv._held.discard(self)
        self._paused = False
        self.last_data = time.monotonic()  # idle time counts from here, not from the pause
        t = self.transport
        if t is not None and not t.is_closing():
            t.resume_reading()

    def stop_reading(self) -> None:
        """No more input: the buffered data is still delivered, then the task ends."""
        t = self.transport
        if t is not None and not t.is_closing():
            try:
                t.pause_reading()
            except RuntimeError:
                pass
        self._paused = True
        self._eof = True
        self.server._held.discard(self)
        self._wake()

    def close(self) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.close()

    def unread(self) -> int:
        """Bytes the kernel received for this connection that were not read (0 if unknown)."""
        t = self.transport
        sock = t.get_extra_info("socket") if t is not None else None
        if sock is None:
            return 0
        try:
            buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
            return int.from_bytes(buf, "little")
        except (OSError, ValueError):
            return 0

    # -- a reload's handover -------------------------------------------------------------
    def _detach(self) -> None:
        """Stop reading for a handover; the serving task ends at its next frame boundary."""
        t = self.transport
        if t is not None and not t.is_closing() and not self._paused:
            try:
                t.pause_reading()
            except RuntimeError:
                pass
        self._paused = True
        self._detached = True
        self.server._held.discard(self)
        self._wake()

    def _move_to(self, server: StreamServer) -> None:
        """Join ``server`` (a reload's successor): the unfinished frame goes back to the
        front of the unframed bytes, framed again with the new server's settings."""
        old = self.server
        rest, skipping = self.framer.take_rest()
        old.partial -= self._partial
        held = self._size + self._inflight + self._partial
        old.buffered -= held
        if rest:
            self._chunks.insert(0, rest)
        self._size += self._inflight + self._partial
        self._inflight = self._partial = 0
        self.server = server
        server.buffered += held
        framer = Framer(server.max_frame, server.delimiter, server.strip_cr)
        if skipping:
            framer.skip()
        self._set_framer(framer)
        self._detached = False
        self.handed_over = True

    @property
    def paused(self) -> bool:
        return self._paused


@dataclass
class Handoff:
    """What a server leaves to its successor on a reload (:meth:`StreamServer.detach`):
    its listening sockets (duplicates: the kernel's backlog of new connections stays) and
    its open connections, reading paused, each with the bytes read but not yet framed."""

    sockets: list[socket.socket]
    connections: list[Connection] = field(default_factory=list)

    def close(self) -> tuple[int, int]:
        """Close everything (nobody took it): (connections closed, bytes lost with them)."""
        for s in self.sockets:
            s.close()
        self.sockets = []
        lost = 0
        for c in self.connections:
            lost += c.unread() + c._size + c._inflight + c._partial
            c.close()
        n, self.connections = len(self.connections), []
        return n, lost


class StreamServer:
    """Listens on ``host:port`` and serves every connection until :meth:`close`.

    ``on_frames(conn, frames, cut)`` receives the frames completed by each read (``cut``
    lists those cut to ``max_frame``); ``on_connect(conn)`` runs before the first frames
    of a connection (e.g. an inventory lookup); ``spawn`` starts the per-connection
    task (the plugin's own ``spawn``, so that errors are logged and tasks cancelled);
    ``on_cut(conn, nbytes)`` is told when an unfinished frame is discarded for the
    total (``max_buffered``), to count and log it.
    """

    def __init__(
        self,
        on_frames: FramesHandler,
        spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]],
        *,
        max_frame: int,
        delimiter: bytes = b"\n",
        strip_cr: bool = True,
        on_connect: ConnectHandler | None = None,
        high_water: int = HIGH_WATER,
        encoding: str | None = None,
        max_buffered: int = MAX_BUFFERED,
        idle_timeout: float = 0.0,
        on_idle: Callable[[Connection], None] | None = None,
        on_cut: CutHandler | None = None,
    ) -> None:
        self.on_frames = on_frames
        self.on_connect = on_connect
        self.spawn = spawn
        self.max_frame = max_frame
        self.delimiter = delimiter
        self.strip_cr = strip_cr
        self.high_water = max(high_water, LOW_WATER + 1)
        self.encoding = encoding  # set: frames are handed on as text (str), else bytes
        self.max_buffered = max(1, max_buffered)
        self.idle_timeout = idle_timeout
        self.on_idle = on_idle
        self.on_cut = on_cut
        self.connections: set[Connection] = set()
        self.accepted = 0
        #: bytes held for all connections: read and not yet taken by the pipeline (framed
        #: or not), and their unfinished frames
        self.buffered = 0
        #: of which in unfinished frames, kept at most ``max_partial``
        self.partial = 0
        self.max_partial = self.max_buffered // 2
        #: the highest ``buffered`` seen
        self.peak = 0
        #: unfinished frames discarded to keep ``partial`` within ``max_partial``
        self.cuts = 0
        #: connections whose reading waits for ``buffered`` to come down
        self._held: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[Any] | None = None
        self._closing = False
        self._unread = 0  # bytes the kernel held for connections closed by close()

    async def listen(
        self, host: str, port: int, tls: ssl.SSLContext | None = None, backlog: int = 1024
    ) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self),
            host or None,
            port,
            ssl=tls,
            backlog=backlog,
            reuse_address=True,
        )
        addr = self._server.sockets[0].getsockname()
        if self.idle_timeout > 0:
            self._reaper = self.spawn(self._reap_idle(), "idle connections")
        return str(addr[0]), int(addr[1])

    async def take_over(
        self, handoff: Handoff, tls: ssl.SSLContext | None = None, backlog: int = 1024
    ) -> tuple[str, int]:
        """Serve the listening sockets and the connections of a predecessor (a reload)."""
        loop = asyncio.get_running_loop()
        socks, handoff.sockets = handoff.sockets, []
        try:
            self._server = await loop.create_server(
                lambda: Connection(self), sock=socks[0], ssl=tls, backlog=backlog
            )
        except BaseException:
            handoff.sockets = socks  # still the predecessor's (a restarted old config's)
            raise
        for extra in socks[1:]:  # a second address family of the same name (rare)
            extra.close()
        addr = self._server.sockets[0].getsockname()
        if self.idle_timeout > 0:
            self._reaper = self.spawn(self._reap_idle(), "idle connections")
        conns, handoff.connections = handoff.connections, []
        for conn in conns:
            conn._move_to(self)
            self.accepted -= 1  # not a new one
            self._accepted(conn)
            conn._resume()
        return str(addr[0]), int(addr[1])

    async def detach(self, into: Handoff) -> None:
        """Stop accepting and reading but close nothing: a reload's successor takes the
        listening sockets and the connections (put ``into`` at once) over (:meth:`take_over`).
        What was framed is delivered first; what was not stays with each connection."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        socks: list[socket.socket] = []
        if self._server is not None:
            for s in self._server.sockets:
                socks.append(socket.socket(fileno=os.dup(s.fileno())))
            self._server.close()  # closes its own descriptors: the duplicates keep listening
            self._server = None
        into.sockets, into.connections = socks, list(self.connections)
        for conn in into.connections:
            conn._detach()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        self.connections.clear()
        # a connection whose task had ended (its peer closed it) is not handed over
        into.connections = [c for c in into.connections if not c._ended]

    def _can_resume(self) -> bool:
        """Reading may resume once half of what is not unfinished frames was taken (half of
        the room the unfinished frames leave): always true when nothing else is held."""
        return 2 * self.buffered - self.partial < self.max_buffered

    def _hold_all(self) -> None:
        """The total is reached: every connection stops reading (not only the next to read:
        with many connections, one read each would be far beyond the total)."""
        for conn in self.connections:
            if not (conn._paused or conn._eof):
                conn._paused = True
                t = conn.transport
                if t is not None and not t.is_closing():
                    t.pause_reading()
                self._held.add(conn)

    def _drained(self, n: int) -> None:
        self.buffered -= n
        if self._held and self._can_resume():
            self._release()

    def _release(self) -> None:
        """Let the connections held for the total resume (those with room of their own)."""
        for conn in list(self._held):
            conn._resume()

    def _cut_partial(self) -> None:
        """Discard the largest unfinished frames until they fit in ``max_partial``."""
        while self.partial > self.max_partial and self.connections:
            conn = max(self.connections, key=_by_partial)
            n = conn._partial
            if not n:
                break
            conn.framer.discard()
            conn._partial = 0
            self.partial -= n
            self.cuts += 1
            if self.on_cut is not None:
                self.on_cut(conn, n)
            self._drained(n)

    async def _reap_idle(self) -> None:
        period = min(1.0, self.idle_timeout / 4)
        while True:
            await asyncio.sleep(period)
            limit = time.monotonic() - self.idle_timeout
            for conn in list(self.connections):
                if conn.last_data < limit and not (conn._paused or conn._eof or conn._chunks):
                    conn.stop_reading()  # what it sent is still delivered, then it is closed
                    if self.on_idle is not None:
                        self.on_idle(conn)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def _accepted(self, conn: Connection) -> None:
        if self._closing:
            conn.close()
            return
        self.accepted += 1
        self.connections.add(conn)
        task = self.spawn(self._serve(conn), f"conn {conn.ip}:{conn.port}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: Connection) -> None:
        on_frames = self.on_frames
        try:
            if self.on_connect is not None:
                await self.on_connect(conn)
            while True:
                await conn._wait()
                if conn._detached:
                    return
                if conn._chunks:
                    frames, cut = conn._frame()
                    if frames:
                        await on_frames(conn, frames, cut)
                    conn._handed_on()
                    conn._resume()
                elif conn._eof:
                    frames, cut = conn._finish()
                    if frames:
                        await on_frames(conn, frames, cut)
                    break
        finally:
            self.connections.discard(conn)
            if not conn._detached:  # else its successor serves it on
                conn._forget()
                if conn._shut:
                    self._unread += conn.unread()
                conn.close()

    async def close(self, timeout: float | None = None) -> tuple[int, int]:
        """Stop accepting and reading; deliver what was read; close every connection.

        Without ``timeout`` it waits until everything read is delivered (the pipeline's
        ``shutdown-timeout`` bounds the whole shutdown and cancels it if need be).
        Returns the connections it closed and the bytes the kernel held for them unread
        (lost: the peers had sent them).
        """
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._server is not None:
            self._server.close()
        closed = 0
        for conn in list(self.connections):
            if not conn._eof:  # the peer did not end it: we do
                closed += 1
                conn._shut = True
            conn.stop_reading()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                t.cancel()
        for conn in list(self.connections):
            self._unread += conn.unread()
            conn.close()
        self.connections.clear()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except TimeoutError:
                pass
            self._server = None
        return closed, self._unread


def tls_context(cert: str, key: str, client_ca: str = "") -> ssl.SSLContext:
    """A server-side TLS context from PEM files (raises OSError/ssl.SSLError when unusable).

    With ``client_ca`` clients must present a certificate that CA signed (mutual TLS).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key or None)
    if client_ca:
        ctx.load_verify_locations(cafile=client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
