"""The delivery base's options and small parts: items, outcomes, the URL pool.

Kept apart from :mod:`.delivery` (the handler base) so that each stays small; every
name here is re-exported by :mod:`.delivery`.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, ClassVar

from pydantic import model_validator

from ...buffer.options import BufferOptions
from ...message import Message
from ...options import SECRET, Bytes, Duration, Field, PluginOptions, to_kebab
from ...retry import backoff
from ...urls import check_base_url, has_credentials, redact

__all__ = [
    "DeliveryOptions",
    "Item",
    "Outcome",
    "UrlPool",
    "backoff_delay",
    "client_tls",
    "default_outcome",
    "item_data",
    "make_ssl",
]

#: one pending unit: the message and its encoded bytes
Item = tuple[Message, bytes]
#: an item's encoded bytes (``b"".join(map(item_data, items))`` is a request body)
item_data = itemgetter(1)


class DeliveryOptions(PluginOptions):
    """Options shared by the HTTP handlers."""

    batch_size: int = Field(1000, ge=1, description="items per request")
    batch_bytes: Bytes = Field(
        5 * 2**20, ge=1, description="send a request once its body reaches this size"
    )
    max_in_flight: int = Field(2, ge=1, description="concurrent requests")
    max_pending: int = Field(
        0,
        ge=0,
        description="unconfirmed messages held before input waits (0: 4 × batch-size × max-in-flight)",
    )
    timeout: Duration = Field(30.0, gt=0, description="time allowed for one request")
    gzip: bool = Field(False, description="compress request bodies (Content-Encoding: gzip)")
    retry_initial: Duration = Field(0.5, gt=0, description="first retry delay (then doubled)")
    retry_max: Duration = Field(30.0, gt=0, description="longest retry delay")
    dead_letter: str = Field(
        "",
        description="JSON-lines file for rejected items (default: dead-letter.jsonl in the instance's data dir)",
    )
    dead_letter_max_bytes: Bytes = Field(
        "100MiB",
        ge=0,
        description="past this size the dead-letter file is renamed to <file>.1 (replacing an "
        "older one) and a new one begun; 0: no limit",
    )
    username: str = Field("", description="basic-auth user (or user:password@ in url, not both)")
    password: str = Field("", description="basic-auth password", json_schema_extra=SECRET)
    tls_ca: str = Field("", description="CA bundle (PEM) to verify the server with")
    tls_cert: str = Field("", description="client certificate (PEM) for mutual TLS")
    tls_key: str = Field("", description="client certificate's key (PEM)")
    tls_verify: bool = Field(True, description="verify the server's certificate and host name")
    buffer: BufferOptions = Field(
        default_factory=BufferOptions,
        description="type (memory or disk), max-bytes, when-full (block or drop-newest), "
        "fsync-interval: disk keeps accepted messages through crashes and outages "
        "(README: Disk buffers)",
    )
    ticker_msec: int | None = Field(
        None, ge=1, description="the seed's name for ticker-ms (flush interval in milliseconds)"
    )

    @model_validator(mode="after")
    def _seed_ticker(self) -> DeliveryOptions:
        if self.ticker_msec is not None and self.ticker_ms is None:
            self.ticker_ms = self.ticker_msec
        return self

    #: options that authenticate through the Authorization header, besides username/password
    auth_options: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _credentials_once(self) -> DeliveryOptions:
        """Valid base URLs, and credentials given one way (aiohttp refuses two at request time)."""
        urls = list(getattr(self, "url", None) or [])
        for u in urls:
            why = check_base_url(u)
            if why:
                raise ValueError(f"url {redact(u)!r}: {why}")
        basic = [k for k in ("username", "password") if getattr(self, k)]
        tokens = [to_kebab(k) for k in self.auth_options if getattr(self, k)]
        in_url = [redact(u) for u in urls if has_credentials(u)]
        if in_url and (basic or tokens):
            raise ValueError(
                f"credentials both in url ({', '.join(in_url)}) and in {', '.join(basic + tokens)}: "
                "give them once, in the URL (user:password@) or in the options"
            )
        if self.password and not self.username:
            raise ValueError("password is set but username is not")
        if basic and tokens:
            raise ValueError(
                f"username/password and {tokens[0]} are two ways to authenticate: give one"
            )
        return self


@dataclass
class Outcome:
    """What became of the items of one request."""

    done: list[Item] = field(default_factory=list)
    retry: list[Item] = field(default_factory=list)
    #: (item, status, error) rejected by the destination
    dead: list[tuple[Item, int, Any]] = field(default_factory=list)
    #: the request was refused as a whole for its content: bisect
    split: bool = False
    #: why items are retried or the request was refused (for logs and health)
    reason: str = ""
    #: the HTTP status of a refused request (dead-letter record of a lone item)
    status: int = 0


def backoff_delay(attempt: int, initial: float, cap: float) -> float:
    """Exponential backoff with jitter (between half and all of the step)."""
    return backoff(attempt, initial, cap, jitter=True)


class UrlPool:
    """Round-robin over base URLs; a URL that failed is skipped until its backoff passed."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self._next = 0
        self._down_until = [0.0] * len(self.urls)
        self._fails = [0] * len(self.urls)

    def pick(self) -> int:
        n = len(self.urls)
        now = time.monotonic()
        for k in range(n):
            i = (self._next + k) % n
            if self._down_until[i] <= now:
                self._next = (i + 1) % n
                return i
        # all down: the one that comes back first
        i = min(range(n), key=self._down_until.__getitem__)
        self._next = (i + 1) % n
        return i

    def failed(self, i: int, initial: float, cap: float) -> None:
        self._fails[i] += 1
        self._down_until[i] = time.monotonic() + backoff_delay(self._fails[i], initial, cap)

    def succeeded(self, i: int) -> None:
        if self._fails[i]:
            self._fails[i] = 0
            self._down_until[i] = 0.0

    def any_up(self) -> bool:
        now = time.monotonic()
        return any(t <= now for t in self._down_until)


def client_tls(ca: str, cert: str, key: str, verify: bool) -> ssl.SSLContext:
    """A client TLS context: a CA file, a client certificate, verification on or off."""
    ctx = ssl.create_default_context(cafile=ca or None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx


def make_ssl(o: DeliveryOptions) -> ssl.SSLContext | bool:
    if not (o.tls_ca or o.tls_cert) and o.tls_verify:
        return True
    return client_tls(o.tls_ca, o.tls_cert, o.tls_key, o.tls_verify)


def default_outcome(status: int, body: bytes, items: list[Item]) -> Outcome:
    """2xx: done; 408/429/5xx and 401/403/404 (configuration): retry; 413 and other 4xx: split."""
    if 200 <= status < 300:
        return Outcome(done=items)
    text = body[:300].decode("utf-8", "replace")
    if status in (408, 429) or status >= 500 or status in (401, 403, 404):
        return Outcome(retry=items, reason=f"HTTP {status}: {text}")
    return Outcome(split=True, reason=f"HTTP {status}: {text}", status=status)
