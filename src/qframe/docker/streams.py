"""Decoders for the Docker API's streaming bodies (pure, no I/O, unit-tested on bytes).

- :class:`LogDecoder`: ``/containers/{id}/logs?timestamps=1`` → lines.  Demultiplexes
  the 8-byte-header frames (``[stream, 0, 0, 0, size(4, big-endian)]``, stream 1 =
  stdout, 2 = stderr) or reads the raw stream of a TTY container, strips and parses
  the timestamp that prefixes each entry, and joins the pieces of a line the engine
  split (Docker at 16 KiB, Podman at 8 KiB: every piece but the last lacks the ``\\n``).
- :class:`JsonLines`: newline-delimited JSON objects (``/events``, ``/stats``).
"""

from __future__ import annotations

import struct
from functools import partial
from typing import Any, NamedTuple

import orjson

from ..rfc3339 import TsParser as _TsParser
from ..rfc3339 import parse_ts_ns
from .client import DockerProtocolError

__all__ = ["STDERR", "STDOUT", "JsonLines", "LogDecoder", "LogLine", "parse_ts_ns"]

STDOUT = 1
STDERR = 2
STREAM_NAMES = {0: "stdin", STDOUT: "stdout", STDERR: "stderr"}
HEADER = 8
MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">B3sL")  # stream, padding (must be zeros), size
_PAD = b"\0\0\0"


class LogLine(NamedTuple):
    stream: int  # 1 stdout, 2 stderr
    ts_ns: int  # the engine's timestamp, ns since the epoch (0: none could be parsed)
    text: bytes  # without the trailing newline (and \r for TTY streams)
    truncated: bool = False


#: ``LogLine`` from a tuple without the Python-level ``__new__`` of a NamedTuple (hot path)
_line = partial(tuple.__new__, LogLine)


def _header(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """(stream, size) of the log frame header at ``pos``; raises on one that is not."""
    st, pad, size = _HEADER.unpack_from(data, pos)
    if st > 2 or pad != _PAD:
        raise DockerProtocolError(f"not a log frame header: {bytes(data[pos : pos + 8])!r}")
    if size > MAX_FRAME:
        raise DockerProtocolError(f"log frame of {size} bytes")
    return st, size


class LogDecoder:
    """Feed it the body of a logs stream chunk by chunk; get complete lines back.

    ``tty``: the container has a TTY (one raw stream, no frame headers, ``\\r\\n``).
    ``max_line``: longer (joined) lines are cut to this many bytes, ``truncated=True``.
    A frame header that is not one (stream type > 2 or non-zero padding) raises
    :class:`DockerProtocolError`; bytes left at :meth:`close` are an interrupted frame.
    """

    def __init__(self, tty: bool = False, max_line: int = 1024 * 1024) -> None:
        self.tty = tty
        self.max_line = max_line
        self._buf = bytearray()
        # per stream: [ts_ns, bytearray, truncated] of a line still being joined
        self._partial: dict[int, list[Any]] = {}
        self._ts = _TsParser()
        self._last_ts = 0
        self.bad_timestamps = 0

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame (or TTY line) held back."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[LogLine]:
        out: list[LogLine] = []
        buf = self._buf
        buf += data
        if self.tty:
            end = buf.rfind(b"\n")
            if end < 0:
                if len(buf) > self.max_line + 64:
                    self._entry(STDOUT, bytes(buf), False, out)
                    buf.clear()
                return out
            chunk = bytes(buf[: end + 1])
            del buf[: end + 1]
            self._frame(STDOUT, chunk, out)
            return out
        pos = 0
        n = len(buf)
        if n < HEADER or n < HEADER + _header(buf, 0)[1]:
            return out  # no whole frame yet (a long one arrives in many reads): no copy
        data = bytes(buf)  # one copy; the frames are sliced from it
        unpack = _HEADER.unpack_from
        while n - pos >= HEADER:
            st, pad, size = unpack(data, pos)
            if st > 2 or pad != _PAD or size > MAX_FRAME:
                _header(data, pos)  # raises, saying what is wrong
            start = pos + HEADER
            pos = start + size
            if pos > n:
                pos = start - HEADER
                break
            payload = data[start:pos]
            if size and payload.find(b"\n") == size - 1:  # the usual frame: one whole line
                self._entry(st, payload[:-1], True, out)
            else:
                self._frame(st, payload, out)
        if pos:
            del buf[:pos]
        return out

    def _frame(self, stream: int, payload: bytes, out: list[LogLine]) -> None:
        start = 0
        n = len(payload)
        while start < n:
            nl = payload.find(b"\n", start)
            end = n if nl < 0 else nl
            self._entry(stream, payload[start:end], nl >= 0, out)
            start = end + 1

    def _entry(self, stream: int, piece: bytes, complete: bool, out: list[LogLine]) -> None:
        sp = piece.find(b" ", 0, 40)
        ts = self._ts(piece[:sp]) if sp > 0 else None
        if ts is None:
            self.bad_timestamps += 1
            ts = self._last_ts
            text = piece
        else:
            self._last_ts = ts
            text = piece[sp + 1 :]
        if self.tty and text.endswith(b"\r"):
            text = text[:-1]
        part = self._partial.get(stream)
        if part is not None:
            if not part[2]:
                room = self.max_line - len(part[1])
                if len(text) > room:
                    part[1] += text[:room]
                    part[2] = True
                else:
                    part[1] += text
            if complete:
                del self._partial[stream]
                out.append(LogLine(stream, part[0], bytes(part[1]), part[2]))
            return
        if complete:
            if len(text) > self.max_line:
                out.append(LogLine(stream, ts, text[: self.max_line], True))
            else:
                out.append(_line((stream, ts, text, False)))
            return
        trunc = len(text) > self.max_line
        self._partial[stream] = [ts, bytearray(text[: self.max_line]), trunc]

    def close(self) -> list[LogLine]:
        """End of stream: lines still being joined are returned; raises on a cut frame."""
        out = [LogLine(s, p[0], bytes(p[1]), p[2]) for s, p in self._partial.items()]
        self._partial.clear()
        if self._buf and not self.tty:
            n = len(self._buf)
            self._buf.clear()
            raise DockerProtocolError(f"log stream ended inside a frame ({n} bytes left)")
        if self._buf:
            rest = bytes(self._buf)
            self._buf.clear()
            self._entry(STDOUT, rest, True, out)
        return out


class JsonLines:
    """Newline-delimited JSON objects; garbage lines are counted in ``errors``."""

    def __init__(self, max_line: int = 16 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self.max_line = max_line
        self.errors = 0
        self.last_error = ""

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        buf = self._buf
        buf += data
        end = buf.rfind(b"\n")
        if end < 0:
            if len(buf) > self.max_line:
                n = len(buf)
                buf.clear()
                raise DockerProtocolError(f"no newline in {n} bytes of a JSON stream")
            return []
        lines = bytes(buf[:end]).split(b"\n")
        del buf[: end + 1]
        out: list[dict[str, Any]] = []
        for ln in lines:
            if not ln.strip():
                continue
            try:
                obj = orjson.loads(ln)
            except orjson.JSONDecodeError:
                self.errors += 1
                self.last_error = f"not JSON: {ln[:80]!r}"
                continue
            if isinstance(obj, dict):
                out.append(obj)
            else:
                self.errors += 1
                self.last_error = f"not a JSON object: {ln[:80]!r}"
        return out

    def close(self) -> list[dict[str, Any]]:
        """End of stream: a last object without its newline is still returned."""
        if not self._buf:
            return []
        self._buf += b"\n"
        return self.feed(b"")
