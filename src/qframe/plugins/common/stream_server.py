"""The options of a collector that serves TCP connections (tcp, gelf over TCP).

:class:`StreamServerOptions` holds the TLS files, the idle timeout and the read buffer
budget; :func:`server_tls` and :func:`stream_server_args` turn them into the arguments
of :class:`~qframe.net.stream.StreamServer`.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from pydantic import model_validator

from ...net.stream import Connection, tls_context
from ...options import Bytes, Duration, Field, PluginOptions
from ...plugin import Plugin

__all__ = ["StreamServerOptions", "server_tls", "stream_server_args"]


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
        description="bytes read from all connections together and not yet handed on; "
        "reading pauses above it",
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


def stream_server_args(plugin: Plugin, options: StreamServerOptions) -> dict[str, Any]:
    """The StreamServer arguments for ``options``; idle closings are counted and logged."""

    def on_idle(conn: Connection) -> None:
        plugin.metrics.inc("idle_closed")
        plugin.log.debug("closing %s:%d: idle for %ss", conn.ip, conn.port, options.idle_timeout)

    return {
        "max_buffered": options.max_buffer_bytes,
        "idle_timeout": options.idle_timeout,
        "on_idle": on_idle,
    }
