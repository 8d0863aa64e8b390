"""GELF, without I/O: chunk reassembly, bounded decompression and the mapping to messages.

Everything here is pure and bounded so that it can be fuzzed: hostile input raises
:class:`GelfReject` (with a short ``reason`` used as the metrics label) and nothing
else, and :class:`ChunkAssembler` never holds more than ``max_pending_bytes``.

Wire format (GELF 1.1):

- a datagram is a whole payload, or a chunk: ``0x1e 0x0f``, an 8-byte message id,
  a sequence number and a sequence count (1 … 128), then the chunk's data;
- a payload is JSON, zlib (``0x78 …``) or gzip (``0x1f 0x8b``) compressed JSON;
- over TCP, each payload is plain JSON ended by a NUL byte.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any

from ..jsonsafe import loads_bounded
from ..message import ContainerInfo, Message

__all__ = [
    "CHUNK_MAGIC",
    "DOCKER_FIELDS",
    "MAX_CHUNKS",
    "ChunkAssembler",
    "GelfReject",
    "decode_payload",
    "parse_gelf",
    "to_message",
]

CHUNK_MAGIC = b"\x1e\x0f"
CHUNK_HEADER = 12
MAX_CHUNKS = 128
#: memory charged per pending message and per chunk on top of its data (dicts, lists, objects)
ENTRY_OVERHEAD = 256
CHUNK_OVERHEAD = 64

#: Docker's gelf log driver: extra field → ContainerInfo attribute
DOCKER_FIELDS = {
    "_container_id": "id",
    "_container_name": "name",
    "_image_name": "image",
    "_image_id": "image_id",
    "_command": "command",
    "_created": "created",
}


class GelfReject(Exception):
    """Hostile or broken input; ``reason`` is a short metrics label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# -- decompression ---------------------------------------------------------------------
def _inflate(data: bytes, wbits: int, limit: int, what: str) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise GelfReject("bad_compression", f"{what}: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise GelfReject("decompression_bomb", f"{what} expands beyond {limit} bytes")
    if not d.eof:
        raise GelfReject("bad_compression", f"{what} stream is truncated")
    return out


def decode_payload(data: bytes, max_bytes: int) -> bytes:
    """The JSON bytes of a whole (reassembled) payload: plain, zlib or gzip."""
    if not data:
        raise GelfReject("empty")
    first = data[0]
    if first == 0x1F and data[1:2] == b"\x8b":
        return _inflate(data, 16 + zlib.MAX_WBITS, max_bytes, "gzip")
    if first == 0x78 and len(data) > 1 and (first * 256 + data[1]) % 31 == 0:
        return _inflate(data, zlib.MAX_WBITS, max_bytes, "zlib")
    if len(data) > max_bytes:
        raise GelfReject("oversized", f"{len(data)} bytes")
    if first in b"{[ \t\r\n":
        return data
    if data[:2] == CHUNK_MAGIC:
        raise GelfReject("bad_chunk", "chunk inside a payload")
    raise GelfReject("bad_magic", f"payload starts with {data[:2].hex()}")


# -- chunk reassembly --------------------------------------------------------------------
class _Pending:
    __slots__ = ("chunks", "count", "first", "got", "size")

    def __init__(self, count: int, now: float) -> None:
        self.count = count
        self.chunks: list[bytes | None] = [None] * count
        self.got = 0
        self.size = ENTRY_OVERHEAD
        self.first = now


class ChunkAssembler:
    """Reassembles chunked GELF datagrams in any order, within time and memory bounds.

    :meth:`add` takes one datagram and returns the payload it completes (a whole
    datagram is returned as is), or ``None`` while chunks are missing.  It raises
    :class:`GelfReject` for a bad chunk; the reasons that concern whole messages
    (expired, evicted) are reported through ``on_reject(reason, n)`` instead, because
    they are discovered while handling another datagram.

    Bounds: at most ``max_pending_bytes`` of chunk data (plus a fixed overhead per
    message and per chunk) is held; when a new chunk would pass it, the oldest
    incomplete messages are evicted.  A message not complete ``timeout`` seconds after
    its first chunk is expired (checked on every ``add`` and by :meth:`expire`).
    """

    def __init__(
        self,
        timeout: float = 5.0,
        max_pending_bytes: int = 32 << 20,
        max_message_bytes: int = 8 << 20,
        on_reject: Callable[[str, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.max_pending_bytes = max_pending_bytes
        self.max_message_bytes = max_message_bytes
        self.on_reject = on_reject or (lambda reason, n: None)
        self.clock = clock
        self._pending: dict[tuple[str, bytes], _Pending] = {}  # insertion order == age order
        self.pending_bytes = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, datagram: bytes, sender: str = "") -> bytes | None:
        """``sender`` (e.g. ``ip:port``) keeps the chunks of different senders apart, so
        that nobody can spoil another sender's message by reusing its message id."""
        if datagram[:2] != CHUNK_MAGIC:
            return datagram
        if len(datagram) < CHUNK_HEADER:
            raise GelfReject("bad_chunk", "chunk shorter than its header")
        mid = (sender, datagram[2:10])
        seq = datagram[10]
        count = datagram[11]
        if count == 0 or count > MAX_CHUNKS:
            raise GelfReject("bad_chunk_count", f"count {count}")
        if seq >= count:
            raise GelfReject("bad_chunk_sequence", f"sequence {seq} of {count}")
        data = datagram[CHUNK_HEADER:]
        now = self.clock()
        self.expire(now)
        if count == 1:
            return data
        p = self._pending.get(mid)
        if p is None:
            p = _Pending(count, now)
            self._pending[mid] = p
            self.pending_bytes += p.size
        elif p.count != count:
            self._forget(mid)
            raise GelfReject("chunk_count_mismatch", f"count {count} after {p.count}")
        if p.chunks[seq] is not None:
            raise GelfReject("duplicate_chunk", f"sequence {seq} of {count}")
        cost = len(data) + CHUNK_OVERHEAD
        held = p.size - ENTRY_OVERHEAD - CHUNK_OVERHEAD * p.got  # data bytes so far
        if held + len(data) > self.max_message_bytes:
            self._forget(mid)
            raise GelfReject("oversized", "chunked message beyond max-message-bytes")
        self._make_room(cost, mid)
        if mid not in self._pending:  # evicted itself (counted by _make_room)
            return None
        p.chunks[seq] = data
        p.got += 1
        p.size += cost
        self.pending_bytes += cost
        if p.got < count:
            return None
        self._forget(mid)
        return b"".join(p.chunks)  # type: ignore[arg-type]

    def _forget(self, mid: tuple[str, bytes]) -> None:
        p = self._pending.pop(mid, None)
        if p is not None:
            self.pending_bytes -= p.size

    def _make_room(self, cost: int, mid: tuple[str, bytes]) -> None:
        evicted = 0
        while self._pending and self.pending_bytes + cost > self.max_pending_bytes:
            oldest = next(iter(self._pending))
            self._forget(oldest)
            evicted += 1
            if oldest == mid:
                break
        if evicted:
            self.on_reject("pending_overflow", evicted)

    def expire(self, now: float | None = None) -> int:
        """Drop the messages whose first chunk is older than ``timeout``; return how many."""
        if now is None:
            now = self.clock()
        limit = now - self.timeout
        n = 0
        pending = self._pending
        while pending:
            mid = next(iter(pending))
            if pending[mid].first > limit:
                break
            self._forget(mid)
            n += 1
        if n:
            self.on_reject("incomplete", n)
        return n

    def clear(self) -> None:
        self._pending.clear()
        self.pending_bytes = 0


# -- JSON → message --------------------------------------------------------------------
def parse_gelf(payload: bytes) -> dict[str, Any]:
    """The GELF object of a decoded payload, checked for its required fields."""
    try:
        obj = loads_bounded(payload)
    except ValueError:  # not JSON, or nested past MAX_DEPTH
        raise GelfReject("invalid_json") from None
    if type(obj) is not dict:
        raise GelfReject("invalid_json", "not an object")
    sm = obj.get("short_message")
    if sm is None or sm == "":
        raise GelfReject("missing_field", "short_message")
    return obj


def _level(v: Any) -> int:
    if type(v) is int and 0 <= v <= 7:
        return v
    try:
        n = int(v)
    except (TypeError, ValueError, OverflowError):
        return 6
    return min(7, max(0, n))


def _time(v: Any, now: float) -> float:
    if v is None:
        return now
    try:
        t = float(v)
    except (TypeError, ValueError, OverflowError):
        return now
    # milliseconds sent by mistake; NaN/inf and absurd values fall back to now
    if t > 1e11:
        t /= 1000.0
    if not (0.0 < t < 1e11):
        return now
    return t


#: ContainerInfo objects kept by a collector's cache, at most (then the cache starts over)
MAX_CACHED_CONTAINERS = 4096


def to_message(
    obj: dict[str, Any],
    source: str = "",
    remote_ip: str = "",
    remote_port: int = 0,
    now: float | None = None,
    containers: dict[tuple[str, ...], ContainerInfo] | None = None,
) -> Message:
    """Map a GELF object (see :func:`parse_gelf`) to a ``log`` message; ``obj`` is consumed.

    ``short_message`` → message, ``host`` → host (the sender's IP when absent),
    ``level`` → level, ``timestamp`` → time, ``full_message`` and every other key
    → fields (``_name`` without the underscore; ``version`` and ``_id`` are left out),
    Docker's gelf-driver fields → ``container``, ``remote_ip``/``remote_port`` → fields.
    ``containers`` (a dict owned by the caller) shares one ContainerInfo between the
    messages of the same container instead of building one per message.
    """
    if now is None:
        now = time.time()
    pop = obj.pop
    msg = pop("short_message", "")
    if type(msg) is not str:
        msg = str(msg)
    host = pop("host", "")
    if type(host) is not str:
        host = str(host)
    level = pop("level", 6)
    if type(level) is not int or not 0 <= level <= 7:
        level = _level(level)
    ts = pop("timestamp", None)
    t = ts if type(ts) is float and 0.0 < ts < 1e11 else _time(ts, now)
    pop("version", None)
    pop("_id", None)
    container = None
    if "_container_id" in obj or "_container_name" in obj:
        values = (
            pop("_container_id", ""),
            pop("_container_name", ""),
            pop("_image_name", ""),
            pop("_image_id", ""),
            pop("_command", ""),
            pop("_created", ""),
        )
        for v in values:
            if type(v) is not str:
                values = tuple(str(x) for x in values)
                break
        if containers is not None:
            container = containers.get(values)
        if container is None:
            container = ContainerInfo(**dict(zip(DOCKER_FIELDS.values(), values, strict=True)))
            if containers is not None:
                if len(containers) >= MAX_CACHED_CONTAINERS:
                    containers.clear()
                containers[values] = container
    fields = {}
    for k, v in obj.items():
        fields[k[1:] if k[:1] == "_" and len(k) > 1 else k] = v
    if remote_ip:
        fields["remote_ip"] = remote_ip
        fields["remote_port"] = remote_port
    return Message(
        msg,
        t,
        host=host or remote_ip,
        level=level,
        source_path=[source] if source else None,
        fields=fields,
        container=container,
    )
