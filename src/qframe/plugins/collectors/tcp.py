"""tcp: newline-delimited text or JSON over TCP (optionally TLS), with backpressure."""

from __future__ import annotations

import asyncio
import codecs
import socket
import time
from typing import Any, Literal

from pydantic import field_validator, model_validator

from ...batch import UniformBatch, new_logs
from ...jsonline import FAILURE_TAG as JSON_FAILURE_TAG
from ...jsonline import decode_object, message_text
from ...message import ContainerInfo, Message, SharedFields, new_log
from ...net.stream import Connection, StreamServer
from ...options import Bytes, Field
from ...telemetry import MetricSpec
from ..common.inventory import InventoryCache, InventoryOptions
from ..common.multiline import MULTILINE_HELP, Event, Groups, MultilineOptions
from ..common.stream_server import (
    STREAM_SERVER_METRICS,
    SocketHandover,
    StreamServerOptions,
    server_tls,
    stream_gauges,
    stream_server_args,
)


def line_messages(
    frames: list[str],
    now: float,
    ip: str,
    port: int,
    source: str,
    container: ContainerInfo | None,
) -> list[Message]:
    """One ``log`` message per line: the hot path of the collector.

    The lines of one read share their fields (copied on a change, see SharedFields).
    """
    fields = SharedFields(remote_ip=ip, remote_port=port)
    return new_logs(frames, now, ip, source, fields, container)


class TcpCollector(SocketHandover):
    """Listens on a TCP port; every line a client sends becomes one ``log`` message.

    Lines end with ``\\n`` (a ``\\r`` before it is removed; an empty line is an empty
    message, as with ``stdin``); the last line of a connection needs no newline.  Many clients may be connected at once.  With
    ``format: json`` each line is a JSON object whose ``message`` key becomes the
    message and whose other keys become fields (a line that is not a JSON object is
    forwarded as text, tagged ``_jsonparsefailure`` and counted).

    TLS: ``tls-cert``/``tls-key`` serve TLS (1.2 or later); with ``tls-client-ca`` only
    clients presenting a certificate signed by that CA are served (mutual TLS).

    Backpressure: lines are handed to the pipeline in batches, one per read; while the
    pipeline is full the collector stops reading that connection, so the kernel makes
    the sender wait and nothing that was accepted is lost (also at shutdown).

    With ``inventory: <instance>`` the sender is looked up by its IP address through the
    inventory's Back channel (the seed's use: containers send AppMetrics and get their
    metadata), once per connection and cached briefly per IP; when the inventory does
    not answer within ``inventory-timeout-ms`` the lines go on without ``container``.

    Emits: kind ``log``; ``message`` the line (UTF-8, invalid bytes replaced); ``host``
    and ``fields.remote_ip`` the sender's address, ``fields.remote_port`` its port;
    ``container`` from the inventory when configured and found.  A line longer than
    ``max-line-bytes`` is cut to it and tagged ``_truncated``.

    Reload (SIGHUP): when its options did not change the collector keeps running, its
    connections untouched; when they did but not its address, the new instance takes the
    listening socket and the open connections over (nothing the senders wrote is lost);
    otherwise the connections are closed and counted (see Metrics).

    Limits: a connection holds at most 256 KiB read ahead and one unfinished line of at
    most ``max-line-bytes``; all connections together hold at most ``max-buffer-bytes``
    (read and not yet handed on, unfinished lines included): when a read reaches it,
    every connection stops reading until the pipeline has taken half of it.  Unfinished
    lines (a peer that never sends the newline) cannot be freed by waiting, so they may
    use at most half of ``max-buffer-bytes``: beyond it the largest is discarded, with
    the rest of that line up to its newline (the connection stays open, its next line is
    whole), counted in ``qframe_dropped_total{reason="buffer_budget"}`` and logged.
    With ``idle-timeout`` a connection that sent nothing for that long is closed
    (keepalive probes find dead peers in any case).

    Workers: with ``workers: N`` (or ``auto``) N processes share the connections: each
    serves its own listening socket on the address (``SO_REUSEPORT``: the kernel spreads
    new connections over them) and sends what it frames to the main process, which runs
    the pipeline (acknowledgements, metrics, health: ``/health`` lists the workers).  A
    connection lives in one process, so its lines keep their order.  A worker that dies
    is started again: the connections it held are reset (their senders see a connection
    reset and reconnect; what it had read and not passed on is lost to them, as when a
    process dies), those waiting to be accepted are served by its successor.  A reload
    that changes the options keeps the port but closes the open connections (counted).
    Not with ``inventory`` (its Back channel is the main process's).  It pays where a
    connection's work is heavy (TLS); plain lines cost the main process about what they
    cost in one process (README: Performance).

    Metrics: ``qframe_truncated_total``, ``qframe_invalid_json_total``,
    ``qframe_connections_total``, ``qframe_idle_closed_total``,
    ``qframe_dropped_total{reason="buffer_budget"}`` and
    ``qframe_discarded_bytes_total{reason="buffer_budget"}``,
    ``qframe_closed_connections_total{reason}`` and ``qframe_lost_bytes_total{reason}``
    (connections closed by a reload that moved the address, or by the shutdown, and the
    bytes they had sent that were not read yet), gauges
    ``qframe_connections`` (open now), ``qframe_buffered_bytes`` (held now),
    ``qframe_buffered_unfinished_bytes`` (of which unfinished lines) and
    ``qframe_buffered_peak_bytes`` (the most held since start).

    Example output (``log`` handler, ``format: json``)::

        {"@timestamp":"2026-11-26T05:00:00.123456Z","kind":"log",
         "message":"GET /index.html 200","level":6,"host":"10.88.0.5",
         "source_path":["tcp"],"source_success":true,
         "fields":{"remote_ip":"10.88.0.5","remote_port":40412}}
    """

    class Options(StreamServerOptions, InventoryOptions):
        bind_host: str = Field("0.0.0.0", description="address to listen on")
        bind_port: int = Field(11001, ge=0, le=65535, description="TCP port to listen on")
        format: Literal["line", "json"] = Field(
            "line", description="line: each line is the message; json: one object per line"
        )
        max_line_bytes: Bytes = Field(
            "1MiB", description="longer lines are cut to this size and tagged _truncated"
        )
        encoding: str = Field("utf-8", description="text encoding (invalid bytes are replaced)")
        multiline: MultilineOptions | None = Field(
            None, description=MULTILINE_HELP + " (per connection; format: line)"
        )

        @field_validator("encoding")
        @classmethod
        def _known_encoding(cls, v: str) -> str:
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r}") from None
            if "\n{}".encode(v, "replace") != b"\n{}":  # lines are split on the byte 0x0a
                raise ValueError(f"{v!r} is not ASCII-compatible (utf-8, latin-1, cp1252, …)")
            return v

        @model_validator(mode="after")
        def _multiline_on_lines(self) -> TcpCollector.Options:
            if self.multiline is not None and self.format != "line":
                raise ValueError("multiline: only with format: line")
            return self

    exported_metrics = (
        *STREAM_SERVER_METRICS,
        MetricSpec("truncated", "counter", "lines cut to max-line-bytes and tagged _truncated"),
        MetricSpec(
            "invalid_json",
            "counter",
            "lines of format: json that are not a JSON object (tagged _jsonparsefailure)",
        ),
    )

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.server: StreamServer | None = None
        self.address: tuple[str, int] = ("", 0)
        self._inv: InventoryCache | None = None
        self._ml: Groups | None = None

    def _warn(self, fmt: str, *args: Any) -> None:
        """Hostile input is logged at a bounded rate (5 lines per 10 s)."""
        self.warn_limited("input", fmt, *args, burst=5)

    async def start(self) -> None:
        if self.options.max_line_bytes < 1:
            raise ValueError("max-line-bytes must be at least 1 byte")
        tls = server_tls(self.options)
        self._inv = InventoryCache.for_collector(self, self.options)
        on_frames: Any = self._on_lines
        if self.options.format == "json":
            on_frames = self._on_json
        elif self.options.multiline is not None:  # the plain path stays as fast as it was
            self._ml = Groups(self.options.multiline)
            on_frames = self._on_lines_joined
        self.server = StreamServer(
            on_frames,
            self.spawn,
            on_connect=self._on_connect,
            encoding=self.options.encoding if self.options.format == "line" else None,
            **stream_server_args(self, self.options, self.options.max_line_bytes),
        )
        self.address = await self.serve(
            self.server, self.options.bind_host, self.options.bind_port, tls
        )
        self.log.info(
            "listening on %s:%d (%s%s)",
            *self.address,
            self.options.format,
            (", TLS with client certificates" if self.options.tls_client_ca else ", TLS")
            if tls
            else "",
        )

    async def run(self) -> None:
        await self.serve_handoff()
        gauges_at = 0.0
        while True:
            await asyncio.sleep(1.0 if self._ml is None else min(1.0, self._ml.next_due() + 0.01))
            if self._ml is not None:
                await self._flush_joined(final=False)
            if self.server is not None and time.monotonic() - gauges_at >= 1.0:
                gauges_at = time.monotonic()
                stream_gauges(self, self.server)

    @classmethod
    def shared_address(cls, options: Any) -> tuple[str, int, int]:
        return (options.bind_host, options.bind_port, socket.SOCK_STREAM)

    def listen_address(self) -> tuple[str, int]:
        return (self.options.bind_host, self.options.bind_port)

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await self.release(server)
            stream_gauges(self, server)
        if self._ml is not None:
            await self._flush_joined(final=True)

    # -- per connection ------------------------------------------------------------------
    async def _on_connect(self, conn: Connection) -> None:
        if not conn.handed_over:  # counted by the predecessor
            self.metrics.inc("connections")
        conn.context = None
        if self._inv is not None:
            conn.context = await self._inv.lookup("ip", conn.ip)

    def _truncated(self, batch: list[Message], cut: list[int]) -> None:
        for i in cut:
            batch[i].add_tag("_truncated")
        self.metrics.inc("truncated", len(cut))
        self._warn(
            "%d line(s) from %s longer than %d bytes were cut",
            len(cut),
            batch[cut[0]].host,
            self.options.max_line_bytes,
        )

    async def _on_lines(self, conn: Connection, frames: list[str], cut: list[int]) -> None:
        batch = line_messages(frames, time.time(), conn.ip, conn.port, self.name, conn.context)
        if cut:
            self._truncated(batch, cut)
        elif all(frames):  # untouched, no blank line: the log handler need not compare them
            batch = UniformBatch(batch)
        self.metrics.received += len(batch)
        await self.emit(batch)

    async def _on_json(self, conn: Connection, frames: list[bytes], cut: list[int]) -> None:
        now = time.time()
        ip = conn.ip
        port = conn.port
        path = self.name
        c: ContainerInfo | None = conn.context
        enc = self.options.encoding
        utf8 = codecs.lookup(enc).name == "utf-8"
        batch: list[Message] = []
        bad = 0
        cuts = set(cut)
        for i, f in enumerate(frames):
            if f[:1] != b"{" and not f.strip():
                continue  # blank lines carry nothing
            obj = decode_object(f if utf8 else f.decode(enc, "replace"))
            if obj is not None:
                text = message_text(obj)
                obj["remote_ip"] = ip
                obj["remote_port"] = port
                m = new_log(text, now, ip, [path], "", obj, None, c)
            else:
                bad += 1
                m = new_log(
                    f.decode(enc, "replace"),
                    now,
                    ip,
                    [path],
                    "",
                    {"remote_ip": ip, "remote_port": port},
                    None,
                    c,
                )
                m.add_tag(JSON_FAILURE_TAG)
            if cuts and i in cuts:
                m.add_tag("_truncated")
            batch.append(m)
        if cut:
            self.metrics.inc("truncated", len(cut))
        if bad:
            self.metrics.inc("invalid_json", bad)
            self._warn("%d line(s) from %s:%d are not JSON objects", bad, ip, port)
        if batch:
            self.metrics.received += len(batch)
            await self.emit(batch)

    # -- multiline: one joiner per connection ----------------------------------------
    def _joined(self, conn: Connection, ev: Event) -> Message:
        text, now, _end, dropped, nlines = ev
        fields: dict[str, Any] = {"remote_ip": conn.ip, "remote_port": conn.port}
        if nlines > 1:
            fields["lines"] = nlines
        m = new_log(text, now, conn.ip, [self.name], "", fields, None, conn.context)
        if dropped:
            m.add_tag("_truncated")
            self.metrics.inc("truncated")
        return m

    async def _on_lines_joined(self, conn: Connection, frames: list[str], cut: list[int]) -> None:
        ml = self._ml
        assert ml is not None
        now = time.time()
        cuts = set(cut)
        events: list[Event] = []
        for i, f in enumerate(frames):
            ml.feed(conn, f, now, now, events, bool(cuts) and i in cuts)
        if cut:
            self._warn(
                "%d line(s) from %s longer than %d bytes were cut",
                len(cut),
                conn.ip,
                self.options.max_line_bytes,
            )
        if events:
            batch = [self._joined(conn, ev) for ev in events]
            self.metrics.received += len(batch)
            await self.emit(batch)

    async def _flush_joined(self, final: bool) -> None:
        """Send the messages of connections idle for the timeout, or closed (all: final)."""
        ml = self._ml
        assert ml is not None
        live = self.server.connections if self.server is not None else set()
        out = ml.flush_all() if final else ml.expired()
        if not final:
            for conn in [k for k in ml.groups if k not in live]:
                ev = ml.pop(conn)
                if ev is not None:
                    out.append((conn, ev))
        if out:
            batch = [self._joined(conn, ev) for conn, ev in out]  # type: ignore[arg-type]
            self.metrics.received += len(batch)
            await self.emit(batch)
