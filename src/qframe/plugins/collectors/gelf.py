"""gelf: GELF 1.1 over UDP (chunked, zlib, gzip) or TCP (NUL-framed), safe against hostile input."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any, Literal

from pydantic import model_validator

from ...message import ContainerInfo, Message
from ...net.gelf import (
    CHUNK_MAGIC,
    ChunkAssembler,
    GelfReject,
    decode_payload,
    parse_gelf,
    to_message,
)
from ...net.stream import Connection, Handoff, StreamServer
from ...options import Bytes, Duration, Field
from ...plugin import Plugin
from ...telemetry import MetricSpec
from ..common.inventory import InventoryCache, InventoryOptions
from ..common.multiline import MULTILINE_HELP, MessageJoiner, MultilineOptions
from ..common.stream_server import (
    STREAM_SERVER_METRICS,
    SocketHandover,
    StreamServerOptions,
    server_tls,
    stream_gauges,
    stream_server_args,
)

#: UDP messages are handed on in batches: when this many are ready, or after FLUSH_DELAY
FLUSH_COUNT = 1024
FLUSH_DELAY = 0.005
#: messages held while the inventory is asked about their sender (beyond: sent without)
MAX_WAITING = 10_000


class GelfCollector(SocketHandover):
    """Receives GELF messages, as Graylog does, e.g. from Docker's ``gelf`` log driver.

    - ``protocol: udp``: one payload per datagram, plain JSON, zlib or gzip (Docker's
      default), or chunked (magic ``0x1e 0x0f``, up to 128 chunks in any order; a message
      not complete within ``reassembly-timeout`` is dropped, and at most
      ``max-pending-bytes`` of chunks are held: beyond that the oldest are evicted).
      Messages are handed on in batches (1,024 messages or every 5 ms).  When the
      pipeline is full, they are dropped and counted
      (``qframe_dropped_total{reason="queue_full"}``): UDP has no backpressure.
    - ``protocol: tcp``: uncompressed JSON payloads each ended by a NUL byte, many
      connections at once; a full pipeline stops the reading (nothing is lost); at most
      ``max-buffer-bytes`` are held for all connections, unfinished frames included
      (those may use half of it: beyond, the largest is discarded and counted in
      ``qframe_dropped_total{reason="buffer_budget"}``; see the tcp collector), and
      ``idle-timeout`` closes silent ones.  ``tls-cert``/``tls-key`` serve TLS (as Graylog's GELF TLS input;
      ``tls-client-ca`` asks clients for a certificate of that CA).

    Reload (SIGHUP): unchanged options keep the collector running; changed ones on the
    same ``bind-host``, ``port`` and ``protocol`` hand the socket (UDP: with the datagrams
    the kernel holds, and the chunks being reassembled when those options did not change;
    TCP: the listening socket and the open connections) to the new instance; else the
    TCP connections are closed and counted (``qframe_closed_connections_total{reason}``,
    ``qframe_lost_bytes_total{reason}``).

    Workers: with ``workers: N`` (or ``auto``) N processes share the input, each with its
    own socket on the address (``SO_REUSEPORT``).  UDP: the kernel picks the socket by the
    sender's address and port, so every chunk of a message meets the others in one
    process and is reassembled there (a sender that changes its source port between the
    chunks of one message loses it, as a chunk lost on the way would).  TCP: a connection
    lives in one process, its messages in order.  Decompression and JSON decoding run in
    the workers; the main process runs the pipeline.  A worker that dies is started again
    (its TCP connections are reset, the chunks it was reassembling are lost).  Not with
    ``inventory``.

    Mapping (GELF 1.1): ``short_message`` → message, ``host`` → host (the sender's IP
    when absent), ``level`` → level, ``timestamp`` → time, ``full_message`` and every
    additional field → fields (``_name`` without the underscore), and the sender's
    address → ``fields.remote_ip`` / ``fields.remote_port``.  Docker's gelf-driver fields
    ``_container_id``, ``_container_name``, ``_image_name``, ``_image_id``, ``_command``
    and ``_created`` become ``container`` (``_tag`` stays in fields as ``tag``).  With
    ``inventory: <instance>`` the container is looked up (by ``_container_id``, else
    by the sender's IP) and the inventory's fuller record is attached.

    Hostile input never stops the flow: every rejected payload is counted in
    ``qframe_rejected_total{reason=…}`` and logged at a bounded rate.  Reasons:
    ``bad_magic``, ``bad_chunk``, ``bad_chunk_count``, ``bad_chunk_sequence``,
    ``duplicate_chunk``, ``chunk_count_mismatch``, ``incomplete`` (timed out),
    ``pending_overflow`` (evicted), ``oversized``, ``decompression_bomb``,
    ``bad_compression``, ``invalid_json``, ``missing_field``, ``empty``.
    Gauges: ``qframe_gelf_pending_bytes`` (chunks held), ``qframe_udp_kernel_drops``
    (datagrams the kernel dropped because the socket buffer was full); over TCP
    ``qframe_connections``, ``qframe_buffered_bytes``, ``qframe_buffered_unfinished_bytes``
    and ``qframe_buffered_peak_bytes``.

    Example output (``log`` handler, ``format: json``)::

        {"@timestamp":"2026-11-26T05:00:00.123456Z","kind":"log","message":"hello",
         "level":3,"host":"web-host","source_path":["gelf"],"source_success":true,
         "fields":{"tag":"web1","remote_ip":"127.0.0.1","remote_port":41234},
         "container":{"id":"3f2a…","name":"web1","image":"nginx:1.25"}}
    """

    class Options(StreamServerOptions, InventoryOptions):
        bind_host: str = Field("0.0.0.0", description="address to listen on")
        port: int = Field(12201, ge=0, le=65535, description="UDP or TCP port to listen on")
        protocol: Literal["udp", "tcp"] = Field("udp", description="udp or tcp")
        reassembly_timeout: Duration = Field(
            "5s", description="drop a chunked message not complete within this time"
        )
        max_pending_bytes: Bytes = Field(
            "32MiB", description="bound on the chunks held for reassembly (oldest evicted)"
        )
        max_message_bytes: Bytes = Field(
            "8MiB", description="largest payload accepted, after decompression"
        )
        udp_buffer: Bytes = Field(
            "8MiB", description="socket receive buffer asked for (SO_RCVBUF) for bursts"
        )
        multiline: MultilineOptions | None = Field(
            None,
            description=MULTILINE_HELP
            + " (joins short_message: per connection over TCP; over UDP per container id or "
            "sender, host and level)",
        )

        @model_validator(mode="after")
        def _tls_over_tcp(self) -> GelfCollector.Options:
            if self.tls_cert and self.protocol != "tcp":
                raise ValueError("tls-cert needs protocol: tcp (GELF over UDP has no TLS)")
            return self

    exported_metrics = (
        *STREAM_SERVER_METRICS,
        MetricSpec("rejected", "counter", "GELF messages refused, by reason"),
        MetricSpec("truncated", "counter", "multiline: joined messages cut at max-lines/max-bytes"),
        MetricSpec("gelf_pending_bytes", "gauge", "bytes of UDP chunks held for reassembly"),
        MetricSpec(
            "udp_kernel_drops",
            "gauge",
            "datagrams the kernel dropped because the socket buffer was full",
        ),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.assembler = ChunkAssembler(
            self.options.reassembly_timeout,
            self.options.max_pending_bytes,
            self.options.max_message_bytes,
            on_reject=self._count_reject,
        )
        self.address: tuple[str, int] = ("", 0)
        self._transport: asyncio.DatagramTransport | None = None
        self._server: StreamServer | None = None
        self._batch: list[Message] = []
        self._flush_scheduled = False
        self._inv: InventoryCache | None = None
        self._waiting: dict[tuple[str, str], list[Message]] = {}
        # one ContainerInfo per Docker container, shared by its messages (bounded)
        self._containers: dict[tuple[str, ...], ContainerInfo] = {}
        self._n_waiting = 0
        self._ml: MessageJoiner | None = None
        if self.options.multiline is not None:
            self._ml = MessageJoiner(self.options.multiline)

    # -- life ------------------------------------------------------------------------------
    def _warn(self, fmt: str, *args: Any) -> None:
        """Hostile input is logged at a bounded rate (5 lines per 10 s)."""
        self.warn_limited("input", fmt, *args, burst=5)

    async def start(self) -> None:
        self._inv = InventoryCache.for_collector(self, self.options)
        if self.options.protocol == "udp":
            await self._start_udp()
        else:
            self._server = StreamServer(
                self._on_frames,
                self.spawn,
                delimiter=b"\0",
                strip_cr=False,
                on_connect=self._on_connect,
                **stream_server_args(
                    self, self.options, self.options.max_message_bytes, "frame", "max-message-bytes"
                ),
            )
            tls = server_tls(self.options)
            self.address = await self.serve(
                self._server, self.options.bind_host, self.options.port, tls
            )
            if tls is not None:
                self.log.info(
                    "TLS%s", " with client certificates" if self.options.tls_client_ca else ""
                )
        self.log.info("listening on %s:%d/%s", *self.address, self.options.protocol)

    async def _start_udp(self) -> None:
        h = self.take_handoff()
        if h is not None and h.sockets:  # a reload: the predecessor's socket, its datagrams
            self.handoff_taken(h)
            addr = h.sockets[0].getsockname()
            self.address = (str(addr[0]), int(addr[1]))

            async def take() -> None:  # from run (see SocketHandover.serve)
                sock = h.sockets.pop()
                _set_rcvbuf(sock, self.options.udp_buffer)
                await self._udp_endpoint(sock)
                if not getattr(h, "inherited", False):  # (a worker's: ``workers``)
                    self.log.info("reload: took over the UDP socket")

            self._pending = (h, take)
            return
        family = socket.AF_INET6 if ":" in self.options.bind_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            _set_rcvbuf(sock, self.options.udp_buffer)
            sock.bind((self.options.bind_host, self.options.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        await self._udp_endpoint(sock)
        addr = sock.getsockname()
        self.address = (str(addr[0]), int(addr[1]))

    async def _udp_endpoint(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=sock)
        self._transport = transport  # type: ignore[assignment]

    async def run(self) -> None:
        await self.serve_handoff()
        ticked = 0.0
        while True:
            ml = self._ml
            await asyncio.sleep(1.0 if ml is None else min(1.0, ml.groups.next_due() + 0.01))
            if ml is not None:
                await self._joined_due(False)
                if time.monotonic() - ticked < 1.0:
                    continue
                ticked = time.monotonic()
            self.assembler.expire()
            self.metrics.set_gauge("gelf_pending_bytes", self.assembler.pending_bytes)
            if self._transport is not None:
                drops = udp_kernel_drops(self.address[1])
                if drops is not None:
                    self.metrics.set_gauge("udp_kernel_drops", drops)
            if self._server is not None:
                stream_gauges(self, self._server)

    @classmethod
    def shared_address(cls, options: Any) -> tuple[str, int, int]:
        kind = socket.SOCK_DGRAM if options.protocol == "udp" else socket.SOCK_STREAM
        return (options.bind_host, options.port, kind)

    def listen_address(self) -> tuple[str, int, str]:
        return (self.options.bind_host, self.options.port, self.options.protocol)

    def adopt(self, previous: Plugin) -> None:
        super().adopt(previous)
        if not isinstance(previous, GelfCollector):
            return
        a, o, p = previous.assembler, self.options, previous.options
        same = (o.reassembly_timeout, o.max_pending_bytes, o.max_message_bytes) == (
            p.reassembly_timeout,
            p.max_pending_bytes,
            p.max_message_bytes,
        )
        if same and a.pending_bytes:  # the chunks of messages being reassembled go on
            a.on_reject = self._count_reject
            self.assembler = a
            previous.assembler = ChunkAssembler(
                p.reassembly_timeout, p.max_pending_bytes, p.max_message_bytes
            )

    async def stop(self) -> None:
        self.give_back()  # a UDP socket claimed and not served yet
        t, self._transport = self._transport, None
        if t is not None:
            sock = t.get_extra_info("socket")
            if self._passes_on and sock is not None:  # the kernel's datagrams stay for it
                self.handoff = Handoff([socket.socket(fileno=os.dup(sock.fileno()))])
            t.close()
            self._flush()
            if self._ml is not None:
                await self._joined_due(True)
        # messages still waiting for the inventory go on without its answer
        held = [m for waiting in self._waiting.values() for m in waiting]
        self._waiting.clear()
        self._n_waiting = 0
        if held:
            await self.emit(held)
        server, self._server = self._server, None
        if server is not None:
            await self.release(server)
            stream_gauges(self, server)
        if self._ml is not None and self._ml.groups.groups:
            await self._joined_due(True)
        if not self._passes_on:  # else the successor may go on with its chunks (adopt)
            self.assembler.clear()

    # -- rejects -------------------------------------------------------------------------
    def _count_reject(self, reason: str, n: int = 1) -> None:
        self.metrics.inc("rejected", n, reason=reason)
        self._warn("rejected %d GELF message(s): %s", n, reason)

    def _reject(self, r: GelfReject, ip: str, port: int) -> None:
        self.metrics.inc("rejected", reason=r.reason)
        self._warn("rejected GELF payload from %s:%d: %s", ip, port, r)

    # -- UDP -------------------------------------------------------------------------------
    def datagram(self, data: bytes, ip: str, port: int) -> None:
        """One datagram (called by the protocol; never raises for bad input)."""
        try:
            payload = self.assembler.add(data, f"{ip}:{port}" if data[:2] == CHUNK_MAGIC else "")
            if payload is None:
                return
            obj = parse_gelf(decode_payload(payload, self.options.max_message_bytes))
            m = to_message(obj, self.name, ip, port, None, self._containers)
        except GelfReject as r:
            self._reject(r, ip, port)
            return
        except Exception as exc:  # a bug must not cost the other datagrams
            self._reject(GelfReject("internal_error", repr(exc)), ip, port)
            return
        self.metrics.received += 1
        batch = self._batch
        batch.append(m)
        if len(batch) >= FLUSH_COUNT:
            self._flush()
        elif not self._flush_scheduled:
            # gather what arrives in the next few milliseconds into one batch: one pass
            # through the pipeline per datagram would cost more than the datagram itself
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FLUSH_DELAY, self._flush_timer)

    def _flush_timer(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if self._ml is not None and batch:
            batch = self._join_udp(batch)
        if not batch:
            return
        if self._inv is not None:
            batch = self._enrich_now(batch)
            if not batch:
                return
        self._send_nowait(batch)

    def _send_nowait(self, batch: list[Message]) -> None:
        if not self.emit_nowait(batch):
            self.drop(batch, "queue_full")
            self._warn("pipeline full: dropped %d GELF message(s)", len(batch))

    # -- inventory (UDP: never wait in the datagram path) ----------------------------------
    @staticmethod
    def _key(m: Message) -> tuple[str, str]:
        c = m.container
        if c is not None and c.id:
            return ("id", c.id)
        return ("ip", str(m.fields.get("remote_ip", "")))

    def _enrich_now(self, batch: list[Message]) -> list[Message]:
        """Attach what the cache knows; hold the others until their lookup ends."""
        inv = self._inv
        assert inv is not None
        ready: list[Message] = []
        for m in batch:
            key = self._key(m)
            known, c = inv.cached(key)
            if known or not key[1]:
                _attach(m, c)
                ready.append(m)
            elif self._n_waiting >= MAX_WAITING:
                ready.append(m)
            else:
                waiting = self._waiting.get(key)
                if waiting is None:
                    waiting = self._waiting[key] = []
                    self.spawn(self._resolve(key), f"inventory {key[0]} {key[1]}")
                waiting.append(m)
                self._n_waiting += 1
        return ready

    async def _resolve(self, key: tuple[str, str]) -> None:
        assert self._inv is not None
        c = await self._inv.lookup(*key)  # never raises but when cancelled (stop sends them)
        held = self._waiting.pop(key, [])
        self._n_waiting -= len(held)
        for m in held:
            _attach(m, c)
        if held:
            self._send_nowait(held)

    # -- TCP -------------------------------------------------------------------------------
    async def _on_connect(self, conn: Connection) -> None:
        if not conn.handed_over:  # counted by the predecessor
            self.metrics.inc("connections")

    async def _on_frames(self, conn: Connection, frames: list[bytes], cut: list[int]) -> None:
        ip, port = conn.ip, conn.port
        limit = self.options.max_message_bytes
        cuts = set(cut) if cut else ()
        batch: list[Message] = []
        now = time.time()
        for i, f in enumerate(frames):
            if i in cuts:
                self._reject(GelfReject("oversized", f"frame beyond {limit} bytes"), ip, port)
                continue
            f = f.strip()
            if not f:
                continue
            try:
                obj = parse_gelf(decode_payload(f, limit))
                batch.append(to_message(obj, self.name, ip, port, now, self._containers))
            except GelfReject as r:
                self._reject(r, ip, port)
            except Exception as exc:  # a bug must not cost the other frames
                self._reject(GelfReject("internal_error", repr(exc)), ip, port)
        if self._ml is not None and batch:
            batch = self._ml.feed(conn, batch)
            self._count_truncated()
        if not batch:
            return
        if self._inv is not None:
            for m in batch:
                key = self._key(m)
                if key[1]:
                    _attach(m, await self._inv.lookup(*key))
        self.metrics.received += len(batch)
        await self.emit(batch)

    # -- multiline -----------------------------------------------------------------------
    def _join_udp(self, batch: list[Message]) -> list[Message]:
        """UDP: joined per (container id or sender address, host, level)."""
        ml = self._ml
        assert ml is not None
        out: list[Message] = []
        for m in batch:
            c = m.container
            src = c.id if c is not None and c.id else m.fields.get("remote_ip", "")
            out.extend(ml.feed((src, m.host, m.level), [m]))
        self._count_truncated()
        return out

    def _count_truncated(self) -> None:
        ml = self._ml
        if ml is not None and ml.truncated:
            self.metrics.inc("truncated", ml.truncated)
            ml.truncated = 0

    async def _joined_due(self, final: bool) -> None:
        """Joined messages idle for the timeout, of closed connections, or all (final)."""
        ml = self._ml
        assert ml is not None
        live = self._server.connections if self._server is not None else None
        batch = ml.due(live if self.options.protocol == "tcp" else None, final)
        self._count_truncated()
        if not batch:
            return
        if self.options.protocol == "udp":
            if self._inv is not None:
                batch = self._enrich_now(batch)
            if batch:
                self._send_nowait(batch)
            return
        if self._inv is not None:
            for m in batch:
                key = self._key(m)
                if key[1]:
                    _attach(m, await self._inv.lookup(*key))
        await self.emit(batch)


def _attach(m: Message, c: ContainerInfo | None) -> None:
    if c is not None:
        m.container = c


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, collector: GelfCollector) -> None:
        self.collector = collector

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            ip, port = str(addr[0]), int(addr[1])
        except (TypeError, IndexError, ValueError):
            ip, port = "", 0
        self.collector.datagram(data, ip, port)

    def error_received(self, exc: Exception) -> None:
        self.collector.log.debug("UDP socket error: %r", exc)


def _set_rcvbuf(sock: socket.socket, size: int) -> None:
    if size <= 0:
        return
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)  # root: beyond rmem_max
            return
        except OSError:
            pass
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    except OSError:
        pass


def udp_kernel_drops(port: int) -> int | None:
    """The drops column of /proc/net/udp{,6} for sockets bound to ``port`` (Linux)."""
    total = None
    hexport = f":{port:04X}"
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) >= 13 and parts[1].endswith(hexport):
                        total = (total or 0) + int(parts[-1])
        except (OSError, ValueError):
            continue
    return total
