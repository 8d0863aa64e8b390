"""A pure, bounded frame splitter for byte streams (``\\n`` lines, ``\\0`` GELF frames).

:class:`Framer` turns the chunks a socket delivers into complete frames.  It never
holds more than ``max_frame`` bytes of an unfinished frame: a longer frame is cut
(its head is returned and flagged, the rest is skipped up to the next delimiter), so
memory stays bounded whatever the peer sends.  An unfinished frame that grows over
several chunks is held as a list of those chunks and joined once, when its delimiter
comes (no quadratic copying, no ladder of ever larger allocations); :meth:`discard`
lets the owner give it up early (e.g. when the memory of all connections is short).  It does no I/O and raises nothing on
any input, which makes it easy to fuzz.

::

    f = Framer(max_frame=1 << 20)
    frames = f.feed(b"a\\nb\\nc")   # [b"a", b"b"]; b"c" waits for its delimiter
    f.cut                            # indexes (into frames) of frames that were cut
    frames = f.finish()              # [b"c"] at end of stream
"""

from __future__ import annotations

__all__ = ["Framer"]

#: pieces of an unfinished frame shorter than this are joined to the next one
SMALL = 4096


class Framer:
    """Split a byte stream on ``delimiter`` with a bound on the size of one frame.

    ``strip_cr`` removes one trailing ``\\r`` from every frame (CRLF line endings).
    After each :meth:`feed` / :meth:`finish`, ``cut`` lists the indexes of the
    returned frames that were longer than ``max_frame`` and were cut to it.
    ``pending`` is the number of bytes held for an unfinished frame.
    """

    __slots__ = (
        "_extra",
        "_parts",
        "_rest",
        "_skipping",
        "_text_delim",
        "cut",
        "delimiter",
        "max_frame",
        "strip_cr",
    )

    def __init__(self, max_frame: int, delimiter: bytes = b"\n", strip_cr: bool = True) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be at least 1")
        if len(delimiter) != 1:
            raise ValueError("delimiter must be one byte")
        self.max_frame = max_frame
        self.delimiter = delimiter
        self._text_delim = delimiter.decode("latin-1")
        self.strip_cr = strip_cr
        self._rest = b""  # the head of the unfinished frame
        self._parts: list[bytes] = []  # and the chunks that followed it (no delimiter in them)
        self._extra = 0  # bytes in _parts
        self._skipping = False  # inside an over-long frame whose head was already returned
        self.cut: list[int] = []

    @property
    def pending(self) -> int:
        return len(self._rest) + self._extra

    def discard(self) -> int:
        """Give up the unfinished frame (its rest, up to the next delimiter, is skipped);
        return the number of bytes it held (0: there was none, nothing is skipped)."""
        n = len(self._rest) + self._extra
        if n:
            self._rest = b""
            self._parts = []
            self._extra = 0
            self._skipping = True
        return n

    def _held(self, last: bytes) -> bytes:
        """The unfinished frame followed by ``last``, in one piece; nothing is held after."""
        if self._parts:
            head = b"".join([self._rest, *self._parts, last])
            self._parts = []
            self._extra = 0
        else:
            head = self._rest + last
        self._rest = b""
        return head

    def _extend(self, tail: bytes) -> list[bytes]:
        """A chunk without a delimiter: it lengthens the unfinished frame.

        Small pieces are joined to the one before (below ``SMALL`` bytes): a peer that
        trickles a byte at a time must not cost an object per byte.
        """
        if not tail:
            return []
        if len(self._rest) + self._extra + len(tail) > self.max_frame:
            return self._hold(self._held(tail), [])
        parts = self._parts
        if parts:
            if len(parts[-1]) < SMALL:
                parts[-1] += tail
            else:
                parts.append(tail)
            self._extra += len(tail)
        elif len(self._rest) < SMALL:
            self._rest += tail
        else:
            parts.append(tail)
            self._extra += len(tail)
        return []

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by ``data`` (without their delimiters)."""
        self.cut = []
        delim = self.delimiter
        if self._skipping:
            i = data.find(delim)
            if i < 0:
                return []
            data = data[i + 1 :]
            self._skipping = False
        # split the chunk itself (no copy of the whole buffer); the held head joins frame 0
        frames = data.split(delim)
        tail = frames.pop()
        if not frames:
            return self._extend(tail)
        if self._rest:
            frames[0] = self._held(frames[0])
        if self.strip_cr:
            if b"\r" in data:
                frames = [f[:-1] if f.endswith(b"\r") else f for f in frames]
            elif frames[0].endswith(b"\r"):  # the CR came at the end of the previous chunk
                frames[0] = frames[0][:-1]
        limit = self.max_frame
        if len(data) > limit or len(frames[0]) > limit:
            for i, f in enumerate(frames):
                if len(f) > limit:
                    frames[i] = f[:limit]
                    self.cut.append(i)
        return self._hold(tail, frames)

    def feed_text(self, data: bytes, encoding: str = "utf-8") -> list[str]:
        """:meth:`feed`, decoded (invalid bytes replaced), for ASCII-compatible encodings.

        When no frame can be over-long it decodes the completed block once and splits the
        text, instead of splitting bytes and decoding every frame (about 40% faster);
        otherwise it is ``feed`` followed by a decode of each frame.
        """
        if not (self._skipping or self._parts):
            end = data.rfind(self.delimiter)
            rest = self._rest
            if 0 <= end and len(rest) + end <= self.max_frame >= len(data) - end - 1:
                head = rest + data[:end] if rest else data[:end]
                self._rest = data[end + 1 :]
                self.cut = []
                text = head.decode(encoding, "replace")
                frames = text.split(self._text_delim)
                if self.strip_cr and "\r" in text:
                    frames = [f[:-1] if f.endswith("\r") else f for f in frames]
                return frames
        return [f.decode(encoding, "replace") for f in self.feed(data)]

    def _hold(self, tail: bytes, frames: list[bytes]) -> list[bytes]:
        if len(tail) > self.max_frame:
            self.cut.append(len(frames))
            frames.append(tail[: self.max_frame])
            self._skipping = True
        else:
            self._rest = tail
        return frames

    def take_rest(self) -> tuple[bytes, bool]:
        """Hand the unfinished frame on (a reload's handover): (its bytes, whether the
        framer is skipping the tail of an over-long frame); the framer is reset."""
        rest = self._held(b"") if self._rest or self._parts else b""
        skipping, self._skipping = self._skipping, False
        return rest, skipping

    def skip(self) -> None:
        """Continue a predecessor that was skipping an over-long frame's tail."""
        self._skipping = True

    def finish(self) -> list[bytes]:
        """At end of stream: the last frame when it had no delimiter (else nothing)."""
        self.cut = []
        rest = self._held(b"")
        self._skipping = False
        if self.strip_cr and rest.endswith(b"\r"):
            rest = rest[:-1]
        return [rest] if rest else []
