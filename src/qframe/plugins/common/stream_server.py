"""The options of a collector that serves TCP connections (tcp, gelf over TCP).

:class:`StreamServerOptions` holds the TLS files, the idle timeout and the read buffer
budget; :func:`server_tls` and :func:`stream_server_args` turn them into the arguments
of :class:`~qframe.net.stream.StreamServer`; :func:`stream_gauges` reports what its
connections hold.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from pydantic import model_validator

from ...net.stream import Connection, StreamServer, tls_context
from ...options import Bytes, Duration, Field, PluginOptions
from ...plugin import Plugin
from ...telemetry import MetricSpec

__all__ = [
    "STREAM_SERVER_METRICS",
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
    MetricSpec("buffered_bytes", "gauge", "bytes read from all connections and not handed on yet"),
    MetricSpec("buffered_unfinished_bytes", "gauge", "of those, bytes of unfinished frames"),
    MetricSpec("buffered_peak_bytes", "gauge", "the peak of buffered_bytes"),
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
