"""The Docker Engine API client every docker plugin shares (built on aiodocker).

aiodocker makes the connection (``unix://``, ``tcp://`` with optional TLS, ``ssh://``,
``npipe://``) and its aiohttp session; this wrapper adds what the collectors need on
top: API-version negotiation, raw streaming responses (logs, stats, events), and
errors translated at the boundary into :class:`DockerError` subclasses:

- :class:`DockerUnavailable`: the engine cannot be reached (no socket, permission
  denied, connection refused or dropped mid-stream); retry later.
- :class:`DockerApiError`: the engine answered with an HTTP error (``status``; 404 means
  the container is gone).
- :class:`DockerProtocolError`: the engine answered something that is not the Docker API
  (garbage, a truncated frame).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import aiodocker
import aiohttp
import orjson

from ..errors import PluginError
from ..urls import redact, redact_text

__all__ = [
    "DEFAULT_HOST",
    "MAX_API_VERSION",
    "DockerApiError",
    "DockerClient",
    "DockerError",
    "DockerProtocolError",
    "DockerUnavailable",
]

DEFAULT_HOST = "unix:///var/run/docker.sock"
#: the newest API version this client speaks; older engines get their own version
MAX_API_VERSION = (1, 44)


class DockerError(PluginError):
    """Base of the errors of the Docker client."""


class DockerUnavailable(DockerError):
    """The engine cannot be reached (retry with backoff)."""


class DockerProtocolError(DockerError):
    """The engine's answer is not what the Docker API says it must be."""


class DockerApiError(DockerError):
    """The engine answered with an HTTP error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def keepalive_socket(idle: float, addr_info: Any) -> socket.socket:
    """A TCP socket whose keepalive probes start after ``idle`` seconds of silence."""
    family, type_, proto = addr_info[0], addr_info[1], addr_info[2]
    sock = socket.socket(family, type_, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    secs = max(1, round(idle))
    for name, value in (("TCP_KEEPIDLE", secs), ("TCP_KEEPINTVL", max(1, secs // 3))):
        if hasattr(socket, name):  # Linux; elsewhere the system's timing applies
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    if hasattr(socket, "TCP_KEEPCNT"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    return sock


def _version_tuple(v: str) -> tuple[int, int]:
    major, _, minor = v.lstrip("v").partition(".")
    return int(major), int(minor or 0)


def negotiate_version(server: str, min_server: str = "") -> str:
    """The API version to use with a server that speaks ``server`` (e.g. ``"1.41"``)."""
    try:
        sv = _version_tuple(server)
    except ValueError as exc:
        raise DockerProtocolError(f"engine reports API version {server!r}") from exc
    use = min(sv, MAX_API_VERSION)
    if min_server:
        try:
            use = max(use, _version_tuple(min_server))
        except ValueError:
            pass
    return f"{use[0]}.{use[1]}"


class DockerClient:
    """One connection to one engine.  Create it anywhere; I/O starts at :meth:`connect`.

    ``host``: ``unix:///path``, ``tcp://host:port`` (``https`` when TLS files are given or
    ``tls_verify``), ``""`` for ``$DOCKER_HOST`` else :data:`DEFAULT_HOST`.
    ``api_version``: ``"auto"`` (negotiate with the engine) or a version such as ``"1.41"``.
    ``keepalive``: for ``tcp://`` engines, seconds a connection may be silent before TCP
    keepalive probes start (3 probes, a third of that apart): an engine whose host
    vanished without closing is noticed within about twice that, instead of hours later
    (follow streams are silent for long); 0: no probes.
    """

    def __init__(
        self,
        host: str = "",
        *,
        api_version: str = "auto",
        tls_ca: str = "",
        tls_cert: str = "",
        tls_key: str = "",
        tls_verify: bool = False,
        timeout: float = 10.0,
        keepalive: float = 30.0,
    ) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.shown = redact(self.host)  # what logs and errors show: no credentials
        self.keepalive = keepalive
        self.requested_version = api_version
        self.api_version = "" if api_version == "auto" else api_version.lstrip("v")
        self.server_version: dict[str, Any] = {}
        self.timeout = timeout
        self._tls = (tls_ca, tls_cert, tls_key, tls_verify)
        self._docker: aiodocker.Docker | None = None
        self._connector: aiohttp.BaseConnector | None = None
        self._orphans: list[aiohttp.BaseConnector] = []
        self._base = ""

    def __repr__(self) -> str:
        return f"DockerClient({self.shown!r}, api={self.api_version or 'auto'})"

    # -- connection -------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext | None:
        ca, cert, key, verify = self._tls
        if not (ca or cert or verify):
            return None
        ctx = ssl.create_default_context(cafile=ca or None)
        if cert:
            ctx.load_cert_chain(cert, key or None)
        if not verify and not ca:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _make(self) -> aiodocker.Docker:
        """The aiodocker client, with a connector of ours: no cap on open connections.

        aiohttp's default connector allows 100 connections; a host with more containers
        than that needs more (one follow stream per container and plugin).
        """
        url = self.host
        connector: aiohttp.BaseConnector | None = None
        if url.startswith("unix://"):
            connector = aiohttp.UnixConnector(url[len("unix://") :], limit=0)
            url = "unix://localhost"
        elif url.startswith(("tcp://", "http://", "https://")):
            ctx = self._ssl_context()
            rest = url.split("://", 1)[1]
            scheme = "https" if ctx is not None or url.startswith("https://") else "http"
            connector = aiohttp.TCPConnector(
                ssl=ctx if ctx is not None else True,
                limit=0,
                socket_factory=partial(keepalive_socket, self.keepalive)
                if self.keepalive > 0
                else None,
            )
            url = f"{scheme}://{rest}"
        try:
            docker = aiodocker.Docker(
                url=url,
                connector=connector,
                api_version="v" + (self.api_version or "1.24"),
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeout),
            )
        except (ValueError, OSError) as exc:
            if connector is not None:
                self._orphans.append(connector)
            raise DockerUnavailable(
                f"bad docker host {self.shown!r}: {redact_text(str(exc))}"
            ) from exc
        self._connector = connector
        self._base = str(docker.docker_host).rstrip("/")
        return docker

    async def connect(self) -> dict[str, Any]:
        """Reach the engine (``/version``) and settle the API version; returns ``/version``."""
        if self._docker is None:
            self._docker = self._make()
        info = await self._json("GET", "/version", versioned=False)
        if not isinstance(info, dict) or "ApiVersion" not in info:
            raise DockerProtocolError(f"/version answered {str(info)[:200]!r}")
        self.server_version = info
        if self.requested_version == "auto":
            self.api_version = negotiate_version(
                str(info["ApiVersion"]), str(info.get("MinAPIVersion", ""))
            )
        return info

    @property
    def connected(self) -> bool:
        return self._docker is not None and bool(self.server_version)

    async def close(self) -> None:
        d, self._docker = self._docker, None
        conn, self._connector = self._connector, None
        self.server_version = {}
        if d is not None:
            await d.close()
        for c in (conn, *self._orphans):
            if c is not None:
                await c.close()
        self._orphans.clear()

    # -- requests ---------------------------------------------------------------------------
    def _url(self, path: str, versioned: bool) -> str:
        if versioned:
            return f"{self._base}/v{self.api_version or '1.24'}{path}"
        return f"{self._base}{path}"

    def _describe(self, exc: BaseException) -> str:
        os_err = getattr(exc, "os_error", None)
        if isinstance(os_err, PermissionError):
            return f"permission denied on {self.shown}"
        if isinstance(os_err, FileNotFoundError):
            return f"no Docker API socket at {self.shown}"
        if isinstance(os_err, ConnectionRefusedError):
            return f"connection refused by {self.shown}"
        return redact_text(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__

    async def _request(
        self, method: str, path: str, params: dict[str, Any] | None, versioned: bool, timeout: Any
    ) -> aiohttp.ClientResponse:
        if self._docker is None:
            self._docker = self._make()
        session = self._docker.session
        try:
            resp = await session.request(
                method, self._url(path, versioned), params=params, timeout=timeout
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DockerUnavailable(self._describe(exc)) from exc
        if resp.status >= 400:
            try:
                body = await resp.read()
            except (aiohttp.ClientError, OSError) as exc:
                raise DockerUnavailable(self._describe(exc)) from exc
            finally:
                resp.release()
            msg = body[:300].decode("utf-8", "replace")
            try:
                parsed = orjson.loads(body)
                if isinstance(parsed, dict):
                    msg = str(parsed.get("message") or parsed.get("cause") or msg)
            except orjson.JSONDecodeError:
                pass
            raise DockerApiError(resp.status, msg)
        return resp

    async def _json(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        versioned: bool = True,
    ) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        resp = await self._request(method, path, params, versioned, timeout)
        try:
            body = await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DockerUnavailable(self._describe(exc)) from exc
        finally:
            resp.release()
        try:
            return orjson.loads(body) if body else None
        except orjson.JSONDecodeError as exc:
            raise DockerProtocolError(f"{path} answered non-JSON {body[:80]!r}") from exc

    async def get(self, path: str, **params: Any) -> Any:
        """``GET`` a versioned JSON endpoint (``/containers/json``)."""
        return await self._json("GET", path, _params(params))

    async def containers(self, all: bool = False) -> list[dict[str, Any]]:
        """``/containers/json``: the running containers (all with ``all=True``)."""
        data = await self.get("/containers/json", all=all)
        if not isinstance(data, list):
            raise DockerProtocolError(f"/containers/json answered {str(data)[:80]!r}")
        return [c for c in data if isinstance(c, dict) and isinstance(c.get("Id"), str)]

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """``/containers/{id}/json``; raises :class:`DockerApiError` (404) when it is gone."""
        data = await self.get(f"/containers/{container_id}/json")
        if not isinstance(data, dict) or not isinstance(data.get("Id"), str):
            raise DockerProtocolError(f"inspect {container_id[:12]} answered {str(data)[:80]!r}")
        return data

    @asynccontextmanager
    async def stream(self, path: str, **params: Any) -> AsyncIterator[aiohttp.ClientResponse]:
        """A streaming ``GET`` (no read timeout); read it with :func:`read_chunks`."""
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None, connect=self.timeout)
        resp = await self._request("GET", path, _params(params), True, timeout)
        try:
            yield resp
        finally:
            resp.close()

    async def read_chunks(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        """The body of a streaming response, chunk by chunk, errors translated."""
        content = resp.content
        while True:
            try:
                data = await content.readany()
            except (aiohttp.ClientError, OSError) as exc:
                raise DockerUnavailable(f"stream broken: {self._describe(exc)}") from exc
            if not data:
                return
            yield data


def _params(params: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "1" if v else "0"
        elif isinstance(v, dict | list):
            out[k] = orjson.dumps(v).decode()
        else:
            out[k] = str(v)
    return out
