"""stdin: one message per line of standard input; at end of input the pipeline drains."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import sys
import time

from ...batch import UniformBatch, new_logs
from ...message import Message
from ...options import Bytes, Field, PluginOptions
from ...plugin import Collector
from ...telemetry import MetricSpec

CHUNK = 256 * 1024


class StdinCollector(Collector):
    """Reads standard input; one ``log`` message per line (``\\n`` or ``\\r\\n``).

    At end of input the collector finishes; once every instance has drained and
    every handler flushed, ``qframe run`` exits 0 (``cat f | qframe run -c p.yml``).

    Emits: kind ``log``, ``message`` the line (UTF-8, invalid bytes replaced),
    ``host`` this host's name.  A line longer than ``max-line-bytes`` is cut, tagged
    ``_truncated`` and counted (``qframe_truncated_total``).
    """

    class Options(PluginOptions):
        max_line_bytes: Bytes = Field(
            "1MiB", description="longer lines are cut and tagged _truncated"
        )
        encoding: str = Field("utf-8", description="text encoding (invalid bytes are replaced)")

    exported_metrics = (
        MetricSpec("truncated", "counter", "lines cut to max-line-bytes and tagged _truncated"),
    )

    async def run(self) -> None:
        fd = sys.stdin.fileno() if sys.stdin is not None else -1
        if fd < 0:
            return
        host = socket.gethostname()
        mode = os.fstat(fd).st_mode
        loop = asyncio.get_running_loop()
        # only pipes, sockets and terminals can be watched by the event loop; a regular
        # file or another device (/dev/null) is refused by epoll (uvloop aborts on it) and
        # is always "ready": read it directly and yield between chunks
        pollable = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)
        if not pollable:

            async def read() -> bytes:
                await asyncio.sleep(0)
                return os.read(fd, CHUNK)
        else:
            reader = asyncio.StreamReader(limit=CHUNK)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader),
                os.fdopen(os.dup(fd), "rb", buffering=0),
            )

            async def read() -> bytes:
                return await reader.read(CHUNK)

        enc = self.options.encoding
        limit = self.options.max_line_bytes
        rest = b""
        skipping = False  # inside an over-long line whose head was already emitted
        try:
            while True:
                data = await read()
                if not data:
                    break
                if skipping:
                    nl = data.find(b"\n")
                    if nl < 0:
                        continue
                    data = data[nl + 1 :]
                    skipping = False
                if rest:
                    data = rest + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    rest = data
                    if len(rest) > limit:
                        await self._emit_lines([rest[:limit]], host, enc, limit, force_tag=True)
                        rest = b""
                        skipping = True
                    continue
                rest = data[cut + 1 :]
                await self._emit_text(data[:cut], host, enc, limit)
            if rest:
                await self._emit_lines([rest], host, enc, limit)
        finally:
            if pollable:
                transport.close()

    async def _emit_text(
        self, data: bytes, host: str, enc: str, limit: int, force_tag: bool = False
    ) -> None:
        text = data.decode(enc, "replace")
        if "\r" in text:
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
        else:
            lines = text.split("\n")
        now = time.time()
        name = self.name
        batch = new_logs(lines, now, host, name)
        if force_tag:
            batch[-1].add_tag("_truncated")
            self.metrics.inc("truncated")
        elif len(data) > limit and max(map(len, lines)) > limit:
            for m in batch:
                if len(m.message) > limit:  # characters ≥ bytes/4: a cheap pre-check
                    self._truncate(m, limit, enc)
        elif all(lines):  # untouched, no blank line: a read whose messages differ in text only
            batch = UniformBatch(batch)
        self.metrics.received += len(batch)
        await self.emit(batch)

    async def _emit_lines(
        self, raw: list[bytes], host: str, enc: str, limit: int, force_tag: bool = False
    ) -> None:
        await self._emit_text(b"\n".join(r.rstrip(b"\r") for r in raw), host, enc, limit, force_tag)

    def _truncate(self, m: Message, limit: int, enc: str) -> None:
        raw = m.message.encode(enc, "replace")
        if len(raw) > limit:
            m.message = raw[:limit].decode(enc, "ignore")
            m.add_tag("_truncated")
            self.metrics.inc("truncated")
