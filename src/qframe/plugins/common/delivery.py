"""What the HTTP handlers (elasticsearch, influxdb) share: batching, retries, dead letters.

A :class:`DeliveringHandler` turns each message into one encoded item (``encode``),
collects items into batches (``batch-size`` items or ``batch-bytes``, or on tick) and
sends each batch as one HTTP request (``max-in-flight`` at a time).  The subclass
builds the request (``request``) and reads the answer (``parse``) into an
:class:`Outcome`: items confirmed (acknowledged), items to retry (exponential backoff
with jitter, for as long as it takes; other URLs are tried first) and items rejected
by the destination (written to the dead-letter file, counted, acknowledged).  A batch
the destination refuses as a whole for its content (a 4xx without per-item results)
is split in halves until the bad item is alone.

Backpressure: ``handle()`` waits while more than ``max-pending`` messages are
unconfirmed, so the handler's input queue fills and the collectors slow down.
Nothing is acknowledged before the destination confirmed it.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import time
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import orjson

from ...broker.ids import IdSource
from ...buffer.queue import METRICS as BUFFER_METRICS
from ...buffer.queue import DiskQueue, buffer_path, unpack_items
from ...jsonsafe import ENCODE_FAILURE_TAG, dumps_lossy
from ...message import Message, format_time
from ...options import PluginOptions
from ...plugin import Handler, Plugin, ack
from ...telemetry import HandlerTally, MetricSpec
from .delivery_options import (
    DeliveryOptions,
    Item,
    Outcome,
    UrlPool,
    backoff_delay,
    default_outcome,
    item_data,
    make_ssl,
)
from .inflight import InFlight, InFlightView, adopt_disk, shutdown_budget, tally

__all__ = [
    "DeliveringHandler",
    "DeliveryOptions",
    "Item",
    "Outcome",
    "UrlPool",
    "backoff_delay",
    "default_outcome",
    "item_data",
]

_message = itemgetter(0)


class DeliveringHandler(InFlightView, Handler):
    """Base of the HTTP handlers; subclasses implement encode, request and parse."""

    manual_ack = True
    Options: ClassVar[type[PluginOptions]] = DeliveryOptions
    options: DeliveryOptions

    exported_metrics = (
        MetricSpec("delivered", "counter", "messages the destination confirmed"),
        MetricSpec("retried", "counter", "messages sent again, by reason"),
        MetricSpec("rejected", "counter", "messages refused before sending (reason encode)"),
        MetricSpec(
            "dead_letter",
            "counter",
            "messages the destination refused, written to the dead-letter file, by status",
        ),
        MetricSpec("dead_letter_rotations", "counter", "rotations of the dead-letter file"),
        MetricSpec("requests", "counter", "requests sent, by status (HTTP status or error)"),
        MetricSpec("splits", "counter", "batches split in halves to find a refused message"),
        MetricSpec("pending", "gauge", "messages not confirmed yet"),
        *BUFFER_METRICS,
    )
    #: the path that requests are sent to, relative to the base URL
    urls: list[str]

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._buf: list[Item] = []
        self._buf_bytes = 0
        self.inflight = InFlight(
            self,
            self.options.max_pending or 4 * self.options.batch_size * self.options.max_in_flight,
        )
        self._sem = asyncio.Semaphore(self.options.max_in_flight)
        self._session: aiohttp.ClientSession | None = None
        self._pool = UrlPool(self.base_urls())
        self._disk: DiskQueue | None = None
        if self.options.buffer.type == "disk":
            self._disk = DiskQueue(self, self.options.buffer)
            self._ids = IdSource()

    # -- subclass API ------------------------------------------------------------------
    def base_urls(self) -> list[str]:
        """``url`` (one or a list), else the seed's ``http://host:port``; scheme added when missing."""
        urls = list(self.options.url) or [f"http://{self.options.host}:{self.options.port}"]  # type: ignore[attr-defined]
        return [u if "://" in u else f"http://{u}" for u in urls]

    def encode(self, m: Message) -> bytes | None:
        """The item's bytes, or None when the message is not for this destination (dropped)."""
        raise NotImplementedError

    def request(self, base: str, items: list[Item]) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, extra headers) of one request carrying ``items``."""
        raise NotImplementedError

    def parse(self, status: int, body: bytes, items: list[Item]) -> Outcome | None:
        """Read an answer; None for the default treatment of the status."""
        return None

    def dead_record(self, item: Item, status: int, error: Any) -> dict[str, Any]:
        """The dead-letter line for a rejected item (without time and status)."""
        return {"item": item[1].decode("utf-8", "replace")}

    def headers(self) -> dict[str, str]:
        return {}

    async def ready(self) -> None:
        """Awaited before each request (e.g. an index template being installed)."""

    # -- life --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._disk is not None:  # first: a buffer in use elsewhere fails the start
            # not self.data_dir: a read-only data-dir makes the handler degraded, not failed
            await self._disk.open(buffer_path(self._node.pipeline.data_dir, self.name))
        headers = self.headers()
        if self.options.username and "Authorization" not in headers:
            cred = base64.b64encode(
                f"{self.options.username}:{self.options.password}".encode()
            ).decode()
            headers["Authorization"] = f"Basic {cred}"
        conn = aiohttp.TCPConnector(
            limit=self.options.max_in_flight * 2 + 2, ssl=make_ssl(self.options)
        )
        self._session = aiohttp.ClientSession(
            connector=conn,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.options.timeout),
            json_serialize=lambda x: orjson.dumps(x).decode(),
        )
        if self._disk is None or not self._disk.error:
            self.set_health("ok")

    async def stop(self) -> None:
        if self._disk is not None:  # what is not confirmed stays on disk, kept
            await self._disk.stop_reading()
        self._dispatch()
        kept = self._disk is not None
        timeout = shutdown_budget(self, 1.0)
        await self.inflight.drain(min(timeout, 2.0) if kept else timeout, kept)
        if self._disk is not None:
            await self._disk.close()
        self.inflight.settle(kept)
        if self._session is not None:
            s, self._session = self._session, None
            await s.close()

    def tally(self) -> HandlerTally:
        m = self.metrics
        dead = sum(v for (name, _), v in m.counters.items() if name == "dead_letter")
        return tally(
            self.inflight,
            self._disk,
            int(m.counter("delivered")),
            int(dead + m.counter("rejected", reason="encode")),
        )

    def adopt(self, previous: Plugin) -> None:
        adopt_disk(self._disk, previous)

    def _buffer_feed(self, payload: bytes, token: Any) -> int:
        """A record read back from the disk buffer: its items, to be sent."""
        datas = unpack_items(payload)
        if datas:
            self._add([(token, d) for d in datas], len(payload))
        return len(datas)

    def _buffer_flush(self) -> None:
        self._dispatch()

    # -- input -------------------------------------------------------------------------
    async def handle(self, batch: list[Message]) -> None:
        if self._disk is not None:
            self._ids.assign(batch)  # stable ids before the record is written
        encode = self.encode
        try:
            encoded: list[Any] = list(map(encode, batch))
        except Exception:
            encoded = [self._encode_one(m) for m in batch]  # rejected ones become False
        if None in encoded or False in encoded:
            items = [(m, d) for m, d in zip(batch, encoded, strict=True) if d]
            unsupported = [m for m, d in zip(batch, encoded, strict=True) if d is None]
            if unsupported:
                self.drop(unsupported, "unsupported")
            size = sum([len(d) for _, d in items])
        else:
            items = list(zip(batch, encoded, strict=True))
            size = sum(map(len, encoded))
        if self._disk is not None:
            if items:
                await self._disk.put([m for m, _ in items], [d for _, d in items])
            return
        if items:
            self._add(items, size)
        await self.inflight.wait_room(self._dispatch)

    def _add(self, items: list[Item], size: int) -> None:
        """Buffer items; send a request per ``batch-size`` items or ``batch-bytes``."""
        bsize, bmax = self.options.batch_size, self.options.batch_bytes
        self.inflight.pending += len(items)
        buf = self._buf
        if len(buf) + len(items) < bsize and self._buf_bytes + size < bmax:
            buf.extend(items)
            self._buf_bytes += size
            return
        if self._buf_bytes + size < bmax:  # only the count matters: whole slices
            i = bsize - len(buf)
            buf.extend(items[:i])
            self._dispatch()
            while len(items) - i >= bsize:
                self._buf = items[i : i + bsize]
                self._dispatch()
                i += bsize
            self._buf = items[i:]
            self._buf_bytes = sum([len(d) for _, d in self._buf])
            return
        total = self._buf_bytes
        for item in items:
            buf.append(item)
            total += len(item[1])
            if len(buf) >= bsize or total >= bmax:
                self._buf_bytes = total
                self._dispatch()
                buf = self._buf
                total = 0
        self._buf_bytes = total

    def _encode_one(self, m: Message) -> Any:
        try:
            return self.encode(m)
        except Exception as exc:
            self._reject(m, exc)
            return False

    async def on_tick(self) -> None:
        self._dispatch()
        self.metrics.set_gauge("pending", self.inflight.pending)

    def _reject(self, m: Message, exc: Exception) -> None:
        self.metrics.inc("rejected", reason="encode")
        m.add_tag(ENCODE_FAILURE_TAG)
        try:
            record: Any = m.to_dict()
        except Exception:
            record = repr(m)
        self._write_dead([{"status": 0, "error": f"encode: {exc!r}", "message": record}])
        self._warn("message could not be encoded (dead-lettered): %r", exc)
        ack((m,))

    def _dispatch(self) -> None:
        if not self._buf:
            return
        items, self._buf, self._buf_bytes = self._buf, [], 0
        self.inflight.launch(self._deliver(items))

    # -- delivery ----------------------------------------------------------------------
    async def _deliver(self, items: list[Item]) -> None:
        attempt = 0
        while items:
            await self.ready()
            async with self._sem:
                out, url_i = await self._send(items)
            if out.done:
                ack(map(_message, out.done))
                self.metrics.inc("delivered", len(out.done))
                self.inflight.confirmed(len(out.done))
            if out.dead:
                self._dead(out.dead)
            if out.split:
                if len(items) == 1:
                    self._dead([(items[0], out.status, out.reason or "rejected")])
                    return
                half = len(items) // 2
                self.metrics.inc("splits")
                await asyncio.gather(self._deliver(items[:half]), self._deliver(items[half:]))
                return
            if not out.retry:
                self.set_health("ok")
                return
            attempt += 1
            items = out.retry
            self.metrics.inc("retried", len(items), reason=_reason_label(out.reason))
            self.set_health("degraded", out.reason)
            self._warn("%d items will be retried: %s", len(items), out.reason)
            if url_i is not None and self._pool.any_up() and len(self._pool.urls) > 1:
                continue  # fail over to another URL at once
            await asyncio.sleep(
                backoff_delay(attempt, self.options.retry_initial, self.options.retry_max)
            )

    async def _send(self, items: list[Item]) -> tuple[Outcome, int | None]:
        """One request; (outcome, index of the URL that failed to connect or None)."""
        session = self._session
        if session is None:
            return Outcome(retry=items, reason="not started"), None
        i = self._pool.pick()
        url, body, headers = self.request(self._pool.urls[i], items)
        if self.options.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers = {**headers, "Content-Encoding": "gzip"}
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                status = resp.status
                data = await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._pool.failed(i, self.options.retry_initial, self.options.retry_max)
            self.metrics.inc("requests", status="error")
            return Outcome(retry=items, reason=f"{type(exc).__name__}: {exc}"), i
        self._pool.succeeded(i)
        self.metrics.inc("requests", status=str(status))
        try:
            out = self.parse(status, data, items)
            if out is None:
                out = default_outcome(status, data, items)
        except Exception as exc:  # a bug or a very odd answer: keep the items, try again
            self.metrics.errors += 1
            self.log.error("reading the answer failed: %r", exc, exc_info=exc)
            out = Outcome(retry=items, reason=f"answer not understood: {exc!r}")
        return out, None

    # -- dead letters ------------------------------------------------------------------
    def _dead(self, dead: list[tuple[Item, int, Any]]) -> None:
        records = []
        for item, status, error in dead:
            r = {"status": status, "error": error}
            try:
                r.update(self.dead_record(item, status, error))
            except Exception as exc:
                r["item"] = item[1].decode("utf-8", "replace")
                r["record_error"] = repr(exc)
            records.append(r)
            self.metrics.inc("dead_letter", status=str(status))
        self._write_dead(records)
        self._warn(
            "%d items rejected by the destination, written to %s: %s",
            len(dead),
            self.dead_letter_path,
            str(dead[0][2])[:300],
        )
        ack(item[0] for item, _, _ in dead)
        self.inflight.confirmed(len(dead))

    @property
    def dead_letter_path(self) -> Path:
        return (
            Path(self.options.dead_letter)
            if self.options.dead_letter
            else self.data_dir / "dead-letter.jsonl"
        )

    def _write_dead(self, records: list[dict[str, Any]]) -> None:
        now = format_time(time.time())
        lines = []
        for r in records:
            line = {"time": now, "handler": self.name, **r}
            lines.append(dumps_lossy(line))  # what orjson refuses is written as text
        lines.append(b"")
        data = b"\n".join(lines)
        path = self.dead_letter_path
        path.parent.mkdir(parents=True, exist_ok=True)
        limit = self.options.dead_letter_max_bytes
        if limit:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > limit:
                # bounded disk use: one previous generation is kept, older records go
                old = path.with_name(path.name + ".1")
                os.replace(path, old)
                self.metrics.inc("dead_letter_rotations")
                self._warn("dead-letter file reached %d bytes: moved to %s", size, old)
        with open(path, "ab") as f:
            f.write(data)

    async def setup_request(
        self,
        what: str,
        method: str,
        path: str,
        refused: Callable[[int], bool],
        **kw: Any,
    ) -> tuple[int, str]:
        """A set-up request (index template, CREATE DATABASE), retried with backoff while the
        destination is unreachable or busy; returns (status, text) of the first success, or of
        a 4xx that ``refused(status)`` says is final."""
        attempt = 0
        while True:
            base = self._pool.urls[self._pool.pick()]
            try:
                assert self._session is not None
                async with self._session.request(method, base + path, **kw) as resp:
                    text = await resp.text()
                    if resp.status < 300 or (400 <= resp.status < 500 and refused(resp.status)):
                        return resp.status, text
                    reason = f"HTTP {resp.status}: {text[:200]}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            attempt += 1
            self.set_health("degraded", f"{what}: {reason}")
            self._warn("%s not done yet: %s", what, reason)
            await asyncio.sleep(
                backoff_delay(attempt, self.options.retry_initial, self.options.retry_max)
            )

    def _warn(self, fmt: str, *args: Any) -> None:
        """Log at most once a second (the next line says how many were held back)."""
        self.warn_limited("delivery", fmt, *args, every=1.0)


def _reason_label(reason: str) -> str:
    head = reason.split(":", 1)[0].strip()
    return head[:40] or "unknown"
