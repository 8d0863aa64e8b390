"""A small TCP proxy that a test can cut and restore (asyncio, in the test's loop).

::

    proxy = await TcpProxy.start(target_port)      # listens on a free loopback port
    url = f"http://127.0.0.1:{proxy.port}"
    await proxy.cut()        # close every connection and refuse new ones (port stays bound)
    await proxy.restore()    # accept and forward again
    proxy.dropping = True    # connections stay open, but what clients send is thrown away
    await proxy.close()

While cut, the listening socket stays open but every new connection is closed at once
(the client sees a connection reset / server disconnect), as a dead destination does.
"""

from __future__ import annotations

import asyncio
import contextlib

from . import free_port

__all__ = ["TcpProxy"]


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = port
        self.is_cut = False
        #: read what clients send and throw it away (a network that loses packets one way)
        self.dropping = False
        self.dropped = 0  # bytes thrown away
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls, target_port: int, target_host: str = "127.0.0.1", port: int | None = None
    ) -> TcpProxy:
        proxy = cls(target_host, target_port, port or free_port())
        proxy._server = await asyncio.start_server(proxy._accept, "127.0.0.1", proxy.port)
        return proxy

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        a = asyncio.ensure_future(self._pipe(reader, up_writer, self))
        b = asyncio.ensure_future(self._pipe(up_reader, writer))
        self._tasks.update((a, b))
        await asyncio.gather(a, b, return_exceptions=True)
        self._tasks.difference_update((a, b))
        self._writers.difference_update((writer, up_writer))
        for w in (writer, up_writer):
            w.transport.abort()

    @staticmethod
    async def _pipe(
        src: asyncio.StreamReader, dst: asyncio.StreamWriter, upstream: TcpProxy | None = None
    ) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if upstream is not None and upstream.dropping:
                    upstream.dropped += len(data)
                    continue
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                dst.transport.abort()

    async def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.is_cut = True
        for w in list(self._writers):
            w.transport.abort()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def restore(self) -> None:
        self.is_cut = False

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
