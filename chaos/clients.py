"""Loopback clients of the chaos scenarios: well-behaved senders and hostile ones."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections import Counter
from pathlib import Path

from chaos.common import SEQ, line


async def send_lines(
    port: int,
    tag: str,
    n: int,
    rate: float = 0.0,
    start: int = 0,
    batch: int = 100,
    frame: str = "line",
) -> dict[str, int]:
    """Send lines ``start..n-1`` over one TCP connection at ``rate`` lines/s (0: as fast as
    possible), reconnecting when qframe closes it; a batch whose write failed is sent
    again (what was written before the failure counts as sent).  ``frame``: ``line``
    (newline-ended) or ``gelf`` (GELF JSON, NUL-ended).  {"sent", "reconnects"}."""
    sent, reconnects, i = 0, 0, start
    t0 = time.monotonic()
    writer: asyncio.StreamWriter | None = None
    while i < n:
        if writer is None:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
        k = min(batch, n - i)
        data = b"".join(encode(line(tag, j), frame) for j in range(i, i + k))
        try:
            writer.write(data)
            await writer.drain()
        except (OSError, ConnectionError):
            reconnects += 1
            writer.transport.abort()
            writer = None
            continue
        i += k
        sent += k
        if rate:
            ahead = (i - start) / rate - (time.monotonic() - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()
    return {"sent": sent, "reconnects": reconnects}


def encode(text: str, frame: str) -> bytes:
    if frame == "gelf":
        return gelf_json(text) + b"\0"
    return text.encode() + b"\n"


def gelf_json(text: str, **extra: object) -> bytes:
    return json.dumps({"version": "1.1", "host": "chaos", "short_message": text, **extra}).encode()


class Flood:
    """``conns`` connections each sending ``per_conn`` bytes of ``fill`` with no
    terminator, then holding them open (``close()`` resets them).  Counts connections
    qframe cut (reset or closed) and those whose writes stalled (reading paused)."""

    def __init__(self, port: int, conns: int, per_conn: int, fill: bytes = b"A") -> None:
        self.port = port
        self.conns = conns
        self.per_conn = per_conn
        self.piece = fill * 65536
        self.opened = 0
        self.cut = 0
        self.stalled = 0
        self.refused = 0
        self.bytes = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def _one(self, sem: asyncio.Semaphore, stall: float) -> None:
        async with sem:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.refused += 1
                return
            self.opened += 1
            self.writers.append(w)
            left = self.per_conn
            try:
                while left > 0:
                    piece = self.piece[: min(left, len(self.piece))]
                    w.write(piece)
                    await asyncio.wait_for(w.drain(), stall)
                    left -= len(piece)
                    self.bytes += len(piece)
            except TimeoutError:
                self.stalled += 1
            except (OSError, ConnectionError):
                self.cut += 1

    async def run(self, parallel: int = 64, stall: float = 3.0) -> None:
        sem = asyncio.Semaphore(parallel)
        await asyncio.gather(*(self._one(sem, stall) for _ in range(self.conns)))

    def still_open(self) -> int:
        """Connections qframe has not closed (a peek sees neither EOF nor an error)."""
        n = 0
        for w in self.writers:
            sock = w.get_extra_info("socket")
            if sock is None or w.transport.is_closing():
                continue
            with socket.socket(fileno=os.dup(sock.fileno())) as s:
                try:
                    n += 1 if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) else 0
                except BlockingIOError:
                    n += 1
                except OSError:
                    pass
        return n

    def close(self) -> None:
        """Reset every connection (RST: no EOF that could complete an unfinished line)."""
        for w in self.writers:
            sock = w.get_extra_info("socket")
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            w.transport.abort()
        self.writers.clear()


def tally_file(path: Path, tag: str) -> Counter[int]:
    """Line numbers of ``tag`` in a ``log`` handler's json file, and how often each came
    (only the head of each line is looked at, so huge lines cost little)."""
    c: Counter[int] = Counter()
    if not path.exists():
        return c
    want = f"chaos-{tag}-".encode()
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            head = raw[:300]
            if want in head:
                m = SEQ.search(head.decode(errors="replace"))
                if m and m.group(1) == tag:
                    c[int(m.group(2))] += 1
    return c
