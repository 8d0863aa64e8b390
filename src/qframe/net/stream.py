"""A framed TCP (or TLS) listener with backpressure, shared by the tcp and gelf collectors.

Each connection is an :class:`asyncio.Protocol` that appends what the socket delivers
to its own buffer and a task per connection that turns the buffer into frames
(:class:`~qframe.net.framing.Framer`) and hands them, all at once, to the
collector's ``on_frames`` coroutine, which awaits the pipeline.  While that await
lasts the buffer may grow to ``high_water`` bytes; then the transport stops reading
and the kernel's window makes the sender wait.  Nothing that was read is dropped:
at :meth:`StreamServer.close` every connection stops reading and its buffer and
last unterminated frame are still delivered.

Memory: besides each connection's ``high_water``, all connections together hold at most
about ``max_buffered`` bytes (plus one read each): above it the connection that read
stops reading until the pipeline has taken half of it.  With ``idle_timeout`` a
connection that sent nothing for that long is closed (what it sent is delivered).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from .framing import Framer

__all__ = ["Connection", "StreamServer"]

log = logging.getLogger("qframe.net")

HIGH_WATER = 256 << 10
LOW_WATER = 64 << 10
MAX_BUFFERED = 64 << 20

#: (connection, frames: bytes, or str when the server decodes, indexes of cut frames)
FramesHandler = Callable[["Connection", list[Any], list[int]], Awaitable[None]]
ConnectHandler = Callable[["Connection"], Awaitable[None]]


class Connection(asyncio.Protocol):
    """One accepted connection: its peer address, its buffer and its reading state."""

    def __init__(self, server: StreamServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.ip = ""
        self.port = 0
        self.context: Any = None  # set by the collector's on_connect (e.g. a ContainerInfo)
        self._chunks: list[bytes] = []
        self._size = 0
        self._paused = False
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self.bytes_in = 0
        self.last_data = time.monotonic()

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
        n = len(data)
        self._chunks.append(data)
        self._size += n
        self.bytes_in += n
        self.last_data = time.monotonic()
        srv = self.server
        srv.buffered += n
        if not self._paused and (self._size >= srv.high_water or srv.buffered >= srv.max_buffered):
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
        if self._chunks or self._eof:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    def _take(self) -> list[bytes]:
        chunks = self._chunks
        if chunks:
            srv = self.server
            srv.buffered -= self._size
            self._chunks = []
            self._size = 0
            if srv._held and srv.buffered < srv.max_buffered // 2:
                srv._release()
        return chunks

    def _resume(self) -> None:
        if not self._paused or self._eof or self._size > LOW_WATER:
            return
        srv = self.server
        if srv.buffered >= srv.max_buffered // 2:
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

    @property
    def paused(self) -> bool:
        return self._paused


class StreamServer:
    """Listens on ``host:port`` and serves every connection until :meth:`close`.

    ``on_frames(conn, frames, cut)`` receives the frames completed by each read (``cut``
    lists those cut to ``max_frame``); ``on_connect(conn)`` runs before the first frames
    of a connection (e.g. an inventory lookup); ``spawn`` starts the per-connection
    task (the plugin's own ``spawn``, so that errors are logged and tasks cancelled).
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
        self.connections: set[Connection] = set()
        self.accepted = 0
        #: bytes read from all connections and not yet framed
        self.buffered = 0
        #: connections whose reading waits for ``buffered`` to come down
        self._held: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[Any] | None = None
        self._closing = False

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

    def _release(self) -> None:
        """Let the connections held for the total resume (those with room of their own)."""
        for conn in list(self._held):
            conn._resume()

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
        framer = Framer(self.max_frame, self.delimiter, self.strip_cr)
        enc = self.encoding
        feed: Callable[[bytes], list[Any]] = (
            framer.feed if enc is None else partial(framer.feed_text, encoding=enc)
        )
        on_frames = self.on_frames
        try:
            if self.on_connect is not None:
                await self.on_connect(conn)
            while True:
                await conn._wait()
                chunks = conn._take()
                if chunks:
                    frames = feed(chunks[0])
                    cut = framer.cut
                    for c in chunks[1:]:  # each read split on its own: no copy of the buffer
                        more = feed(c)
                        if framer.cut:
                            cut = cut + [len(frames) + i for i in framer.cut]
                        frames += more
                    if frames:
                        await on_frames(conn, frames, cut)
                    conn._resume()
                elif conn._eof:
                    frames = framer.finish()
                    if frames and enc is not None:
                        frames = [f.decode(enc, "replace") for f in frames]
                    if frames:
                        await on_frames(conn, frames, framer.cut)
                    break
        finally:
            self.connections.discard(conn)
            conn.close()

    async def close(self, timeout: float | None = None) -> None:
        """Stop accepting and reading; deliver what was read; close every connection.

        Without ``timeout`` it waits until everything read is delivered (the pipeline's
        ``shutdown-timeout`` bounds the whole shutdown and cancels it if need be).
        """
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.stop_reading()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                t.cancel()
        for conn in list(self.connections):
            conn.close()
        self.connections.clear()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            except TimeoutError:
                pass
            self._server = None


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
