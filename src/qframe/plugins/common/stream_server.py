"""The options of a collector that serves TCP connections (tcp, gelf over TCP).

:class:`StreamServerOptions` holds the TLS files, the idle timeout and the read buffer
budget; :func:`server_tls` and :func:`stream_server_args` turn them into the arguments
of :class:`~qframe.net.stream.StreamServer`; :func:`stream_gauges` reports what its
connections hold.  :class:`SocketHandover` passes the listening socket and the open
connections to the successor of a reload.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import model_validator

from ...net.stream import Connection, Handoff, StreamServer, tls_context
from ...options import Bytes, Duration, Field, PluginOptions
from ...plugin import Collector, Plugin
from ...telemetry import MetricSpec

__all__ = [
    "STREAM_SERVER_METRICS",
    "SocketHandover",
    "StreamServerOptions",
    "server_tls",
    "stream_gauges",
    "stream_server_args",
]

#: the metrics of a collector that serves TCP connections, part of its ``exported_metrics``
#: (set by :func:`stream_server_args`, :func:`stream_gauges` and, ``connections``
#: accepted, by the collector)
STREAM_SERVER_METRICS = (
    MetricSpec("connections", "counter", "connections accepted"),
    MetricSpec("idle_closed", "counter", "connections closed by idle-timeout"),
    MetricSpec(
        "discarded_bytes",
        "counter",
        "bytes of unfinished frames discarded for the buffer budget, by reason",
    ),
    MetricSpec("connections", "gauge", "connections open now"),
    MetricSpec(
        "buffered_bytes",
        "gauge",
        "bytes all connections hold: read and not handed on yet, unfinished frames included",
    ),
    MetricSpec("buffered_unfinished_bytes", "gauge", "of those, bytes of unfinished frames"),
    MetricSpec("buffered_peak_bytes", "gauge", "the peak of buffered_bytes"),
    MetricSpec(
        "closed_connections",
        "counter",
        "open connections closed by qframe (a reload that moved the address, the shutdown)"
        ", by reason",
    ),
    MetricSpec(
        "lost_bytes",
        "counter",
        "bytes those connections had sent that were not read yet, by reason",
    ),
)


class StreamServerOptions(PluginOptions):
    """Options of a collector that serves TCP connections (tcp, gelf over TCP)."""

    tls_cert: str = Field("", description="PEM certificate (chain) file: serve TLS when set")
    tls_key: str = Field("", description="PEM private key file for tls-cert")
    tls_client_ca: str = Field(
        "", description="PEM CA file: clients must present a certificate it signed"
    )

    idle_timeout: Duration = Field(
        0.0, ge=0, description="close a connection that sent nothing for this long (0: never)"
    )
    max_buffer_bytes: Bytes = Field(
        "64MiB",
        ge=1,
        description="bytes all connections together hold (read and not yet handed on, "
        "unfinished lines included): reading pauses above it; beyond half of it in "
        "unfinished lines, the largest is discarded (counted, dropped reason buffer_budget)",
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> StreamServerOptions:
        if (self.tls_key or self.tls_client_ca) and not self.tls_cert:
            raise ValueError("tls-key and tls-client-ca need tls-cert")
        return self


def server_tls(options: StreamServerOptions) -> ssl.SSLContext | None:
    """The TLS context of ``tls-cert``/``tls-key``/``tls-client-ca``, or None (plain TCP)."""
    if not options.tls_cert:
        return None
    for key, path in (
        ("tls-cert", options.tls_cert),
        ("tls-key", options.tls_key),
        ("tls-client-ca", options.tls_client_ca),
    ):
        if path and not os.access(path, os.R_OK):
            raise ValueError(f"{key} {path}: not a readable file")
    try:
        return tls_context(options.tls_cert, options.tls_key, options.tls_client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"TLS files {options.tls_cert}, {options.tls_key or '-'}: {exc}") from exc


def stream_server_args(
    plugin: Plugin,
    options: StreamServerOptions,
    max_frame: int,
    what: str = "line",
    key: str = "max-line-bytes",
) -> dict[str, Any]:
    """The StreamServer arguments for ``options`` and ``max_frame`` (the option ``key``);
    idle closings and unfinished ``what``s discarded for the total are counted and logged."""
    if max_frame > options.max_buffer_bytes // 2:
        plugin.log.warning(
            "%s (%d) is more than half of max-buffer-bytes (%d): a %s longer than %d bytes "
            "is discarded before its end comes",
            key,
            max_frame,
            options.max_buffer_bytes,
            what,
            options.max_buffer_bytes // 2,
        )

    def on_idle(conn: Connection) -> None:
        plugin.metrics.inc("idle_closed")
        plugin.log.debug("closing %s:%d: idle for %ss", conn.ip, conn.port, options.idle_timeout)

    def on_cut(conn: Connection, n: int) -> None:
        plugin.metrics.drop("buffer_budget")
        plugin.metrics.inc("discarded_bytes", n, reason="buffer_budget")
        plugin.warn_limited(
            "buffer_budget",
            "discarded an unfinished %s of %d bytes from %s:%d (and its rest): unfinished "
            "%ss of all connections may hold half of max-buffer-bytes (%d bytes)",
            what,
            n,
            conn.ip,
            conn.port,
            what,
            options.max_buffer_bytes,
            burst=5,
        )

    return {
        "max_frame": max_frame,
        "max_buffered": options.max_buffer_bytes,
        "idle_timeout": options.idle_timeout,
        "on_idle": on_idle,
        "on_cut": on_cut,
    }


def stream_gauges(plugin: Plugin, server: StreamServer) -> None:
    """Connections open, bytes they hold (of which unfinished frames), the peak of those."""
    m = plugin.metrics
    m.set_gauge("connections", len(server.connections))
    m.set_gauge("buffered_bytes", server.buffered)
    m.set_gauge("buffered_unfinished_bytes", server.partial)
    m.set_gauge("buffered_peak_bytes", server.peak)


_CARRIED = frozenset({"connections", "closed_connections", "lost_bytes"})


class SocketHandover(Collector):
    """A reload's handover of a collector's sockets (tcp, gelf), a base class.

    When a reload replaces the collector (its options changed) by one listening on the
    same address, ``stop`` leaves the listening socket and the open connections (with
    the bytes read but not yet framed) to the successor, which serves them on: the data
    the kernel holds for them is not lost and the senders see nothing.  When it cannot
    (the address changed, the collector was removed), the connections are closed and
    counted: ``qframe_closed_connections_total{reason}`` and the bytes the kernel had
    received for them unread, ``qframe_lost_bytes_total{reason}`` (``reload`` or
    ``shutdown``), with a warning.
    """

    #: ``workers`` > 1: N processes serve N listening sockets on the address (SO_REUSEPORT)
    shares_work = "sockets"
    #: what stop() left for the successor (taken in its start, else closed after the reload)
    handoff: Handoff | None = None
    _passes_on = False
    _retiring = False
    _previous: SocketHandover | None = None
    _tls: ssl.SSLContext | None = None
    _pending: tuple[Handoff, Callable[[], Awaitable[None]]] | None = None

    @classmethod
    def workers_refusal(cls, options: PluginOptions) -> str:
        if getattr(options, "inventory", ""):
            return (
                "inventory lookups go through the Back channel, which a worker process "
                "does not have: use workers: 1 with inventory"
            )
        return ""

    def listen_address(self) -> tuple[Any, ...]:
        """What must be equal for a successor to take the sockets over."""
        raise NotImplementedError

    def hand_over(self, successor: Plugin | None) -> None:
        self._retiring = True
        self._passes_on = (
            isinstance(successor, SocketHandover)
            and successor.listen_address() == self.listen_address()
        )

    def adopt(self, previous: Plugin) -> None:
        if isinstance(previous, SocketHandover):
            self._previous = previous
            # the connections' counters go on (those counted while it stopped too)
            counters = self.metrics.counters
            for key, v in previous.metrics.counters.items():
                if key[0] in _CARRIED:
                    counters[key] = counters.get(key, 0) + v

    def _holder(self) -> SocketHandover | None:
        """The predecessor holding a handoff: the one adopted, or (the restarted old config
        after a failed reload adopts the failed instance) the one that instance adopted."""
        prev = self._previous
        while prev is not None and prev.handoff is None:
            prev = prev._previous
        return prev

    def take_handoff(self) -> Handoff | None:
        """In start: what the predecessor left (the caller clears it with
        :meth:`handoff_taken` once it serves it: a failed start leaves it to the
        restarted old config)."""
        holder = self._holder()
        return holder.handoff if holder is not None else None

    def handoff_taken(self, handoff: Handoff) -> None:
        holder = self._holder()
        if holder is not None and holder.handoff is handoff:
            holder.handoff = None
        self._previous = None

    def reload_kept(self) -> None:
        """Kept running by a reload: new connections get the TLS files as they are now
        (a renewed certificate); unusable files leave the previous ones in place."""
        ctx, o = self._tls, self.options
        if ctx is None or not isinstance(o, StreamServerOptions) or not o.tls_cert:
            return
        try:
            ctx.load_cert_chain(o.tls_cert, o.tls_key or None)
            if o.tls_client_ca:
                ctx.load_verify_locations(cafile=o.tls_client_ca)
        except (OSError, ssl.SSLError) as exc:
            self.log.error("reload: TLS files unusable, the previous ones stay: %s", exc)
            return
        self.log.info("reload: TLS files re-read")

    async def serve(
        self, server: StreamServer, host: str, port: int, tls: ssl.SSLContext | None
    ) -> tuple[str, int]:
        """In start: listen on ``host:port``, or claim what the predecessor left, served
        from :meth:`serve_handoff` (run: the pipeline runs, nothing is read into a
        pipeline whose start may still fail)."""
        self._tls = tls
        h = self.take_handoff()
        if h is None or not h.sockets:
            return await server.listen(host, port, tls)
        self.handoff_taken(h)

        async def take() -> None:
            n = len(h.connections)
            try:
                await server.take_over(h, tls)
            except OSError as exc:  # the socket is unusable: its connections are lost
                self.log.error("reload: cannot serve the previous socket (%s); listening anew", exc)
                self.count_closed(*h.close(), "reload")
                await server.listen(host, port, tls)
                return
            if getattr(h, "inherited", False):  # a worker process's socket (``workers``)
                self.log.debug("serving the listening socket of this worker")
            else:
                self.log.info("reload: took over the listening socket and %d open connection(s)", n)

        self._pending = (h, take)
        name = h.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    async def serve_handoff(self) -> None:
        """At the start of ``run``: serve what :meth:`serve` claimed (once)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending[1]()

    def give_back(self) -> bool:
        """In stop: what was claimed and not served yet is left for the next instance."""
        pending, self._pending = self._pending, None
        if pending is None:
            return False
        self.handoff = pending[0]
        return True

    async def release(self, server: StreamServer) -> None:
        """Stop serving: hand over to the successor, or close (counting what is lost)."""
        if self.give_back():
            return
        if self._passes_on:  # (held at once: a cancelled drain must not leak the socket)
            self.handoff = Handoff([])
            await server.detach(self.handoff)
            return
        closed, unread = await server.close()
        self.count_closed(closed, unread, "reload" if self._retiring else "shutdown")

    def count_closed(self, closed: int, unread: int, reason: str) -> None:
        if not closed:
            return
        self.metrics.inc("closed_connections", closed, reason=reason)
        self.metrics.inc("lost_bytes", unread, reason=reason)
        self.log.warning(
            "%s: closed %d open connection(s); %d byte(s) they had sent were not read yet",
            reason,
            closed,
            unread,
        )

    async def handed_over(self) -> None:
        h, self.handoff = self.handoff, None
        if h is not None:  # nobody took it (the successor failed to start)
            closed, unread = h.close()
            self.count_closed(closed, unread, "reload")
