"""Container log files: ``format: cri`` (containerd, CRI-O, Podman's k8s-file) and
``format: docker-json`` (Docker's json-file driver).

CRI: ``<RFC 3339 time> <stdout|stderr> <P|F> <text>``; ``P`` lines are pieces of a
line that the next ``F`` line of the same stream completes.  docker-json:
``{"log": "text\\n", "stream": "stdout", "time": "…"}``; a ``log`` without its newline
is a piece (Docker splits at 16 KiB).  :class:`ContainerLines` turns such raw lines
into whole lines with their time and stream; a piece held back keeps the file's
checkpoint before it (:attr:`ContainerLines.pending_start`).

A path in the Kubernetes layout ``…/<namespace>_<pod>_<uid>/<container>/<restart>.log``
(rotated: ``<restart>.log.<suffix>``) names the pod: :func:`pod_container`.  The
kubelet's links ``…/containers/<pod>_<namespace>_<container>-<id>.log`` also give the id.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

import orjson

from ....message import KIND_LOG, ContainerInfo, Delivery, Message, new_log
from ....rfc3339 import TsParser

if TYPE_CHECKING:
    from .tailer import Tailer

__all__ = ["PARTIAL_TAG", "ContainerLines", "Line", "ascii_cri", "ns_time", "pod_container"]

PARTIAL_TAG = "_partial"
PARSE_FAILURE_TAG = "_criparsefailure"
STREAMS = ("stdout", "stderr")

POD_DIR = re.compile(
    r"(?:^|/)(?P<ns>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[^/_]+)/(?P<ctr>[^/]+)/"
    r"(?P<restart>\d+)\.log(?:\.[^/]*)?$"
)
LINK = re.compile(
    r"(?:^|/)(?P<pod>[^/_]+)_(?P<ns>[^/_]+)_(?P<ctr>[^/]+)-(?P<id>[0-9a-f]{64})\.log$"
)

# (text, offset of its first piece, time (None: none), stream, cut, tags)
Line = tuple[str, int, float | None, str, bool, tuple[str, ...]]


def ns_time(ns: int) -> float:
    """A time in ns since the epoch as seconds: the float nearest to it (int / int is
    correctly rounded).  Every path of this module gives a line's time as this value."""
    return ns / 1_000_000_000


def pod_container(path: str) -> ContainerInfo | None:
    """The container a log file of the Kubernetes layout (or a link to one) belongs to."""
    cid = ""
    m = LINK.search(path)
    p = POD_DIR.search(path)
    if m is not None:
        cid = m["id"]
        hop = path
        for _ in range(8):  # the links one at a time, to the first name of the layout
            try:
                hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
            except OSError:
                break
            p = POD_DIR.search(hop)
            if p is not None:
                break
    if p is None:
        if m is None:
            return None
        labels = {"io.kubernetes.pod.namespace": m["ns"], "io.kubernetes.pod.name": m["pod"]}
        labels["io.kubernetes.container.name"] = m["ctr"]
        return ContainerInfo(id=cid, name=m["ctr"], labels=labels)
    labels = {
        "io.kubernetes.pod.namespace": p["ns"],
        "io.kubernetes.pod.name": p["pod"],
        "io.kubernetes.pod.uid": p["uid"],
        "io.kubernetes.container.name": p["ctr"],
        "io.kubernetes.container.restartCount": p["restart"],
    }
    return ContainerInfo(id=cid, name=p["ctr"], labels=labels)


class _Piece:
    __slots__ = ("at", "cut", "parts", "size", "start", "ts")

    def __init__(self, start: int, ts: float | None) -> None:
        self.start = start
        self.ts = ts
        self.parts: list[str] = []
        self.size = 0
        self.cut = False
        self.at = time.monotonic()


# a CRI timestamp with a fraction of 1-9 digits: (up to its fraction) (fraction) (zone)
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.)(\d{1,9})(Z|z|[+-]\d\d:\d\d)", re.ASCII)
_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.", re.ASCII)
# below this many seconds since the epoch, ``second + int(fraction) / 10**len`` is not
# always the float nearest to the time (see :meth:`ContainerLines.base`)
MIN_BASE = 1 << 21
_SCALES = [10**k for k in range(10)]


class ContainerLines:
    """Whole lines of one container log file; pieces joined per stream."""

    def __init__(self, fmt: str, limit: int) -> None:
        self.json = fmt == "docker-json"
        self.limit = limit
        self.pieces: dict[str, _Piece] = {}
        self.malformed = 0  # lines that are not of the format (kept as text, tagged)
        self._ts = TsParser()  # caches the seconds part: lines of one second parse fast
        # zone → {"YYYY-MM-DDTHH:MM:SS.": seconds since the epoch + the zone's offset}
        self._bases: dict[str, dict[str, float]] = {}

    @property
    def pending_start(self) -> int | None:
        if not self.pieces:
            return None
        return min(p.start for p in self.pieces.values())

    def bases(self, zone: str) -> dict[str, float]:
        """The cache of one zone's seconds (:meth:`base` fills it; emptied here when big)."""
        got = self._bases.get(zone)
        if got is None:
            if len(self._bases) > 16:
                self._bases.clear()
            got = self._bases[zone] = {}
        elif len(got) > 4096:
            got.clear()
        return got

    def base(self, cache: dict[str, float], key: str, zone: str) -> float | None:
        """``key`` (``YYYY-MM-DDTHH:MM:SS.``) in ``zone``: its second + the zone's offset, as
        :class:`~qframe.rfc3339.TsParser` reads it; None if that is not a time, or too close
        to 1970 for the fast sum.  Cached in ``cache`` (:meth:`bases` of ``zone``).

        With a second ``B`` ≥ 2**21 and a fraction ``f`` of ``k`` ≤ 9 digits, the float sum
        ``B + f / 10**k`` is the float nearest to ``B + f/10**k`` — the value :func:`ns_time`
        gives: ``f / 10**k`` is off by at most 2**-54, and the exact time lies farther than
        that from every midpoint between two floats (``10**k`` holds ``2**k`` only, so that
        distance is at least ``1 / (5**k * 2**(53-e))`` for ``B`` in ``[2**e, 2**(e+1))``)."""
        if _SECOND.fullmatch(key) is None:
            return None
        ns = self._ts((key + "0" + zone).encode())
        if ns is None:
            return None
        sec = ns // 1_000_000_000
        if sec < MIN_BASE:
            return None
        b = cache[key] = float(sec)
        return b

    def _parse(self, text: str) -> tuple[float | None, str, bool, str] | None:
        """(time, stream, partial, content) of a raw line, None if malformed."""
        if self.json:
            try:
                obj: Any = orjson.loads(text)
                log, stream, ts = obj["log"], obj.get("stream", "stdout"), obj.get("time", "")
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return None
            if not isinstance(log, str) or stream not in STREAMS or not isinstance(ts, str):
                return None
            t = None
            if ts:
                ns = self._ts(ts.encode())
                if ns is None:
                    return None
                t = ns_time(ns)
            if log.endswith("\n"):
                return t, stream, False, log[:-1]
            return t, stream, True, log
        parts = text.split(" ", 3)
        if len(parts) < 3 or parts[1] not in STREAMS or parts[2] not in ("P", "F"):
            return None
        ns = self._ts(parts[0].encode("ascii", "replace"))
        if ns is None:
            return None
        return ns_time(ns), parts[1], parts[2] == "P", parts[3] if len(parts) == 4 else ""

    def take(self, text: str, off: int, out: list[Line]) -> None:
        """One raw line at ``off``: a whole line is appended to ``out`` (pieces are held)."""
        r = self._parse(text)
        if r is None:
            self.malformed += 1
            out.append((text, off, None, "stdout", False, (PARSE_FAILURE_TAG,)))
            return
        t, stream, partial, content = r
        if partial:
            self.piece(content, off, t, stream)
        else:
            self.whole(content, off, t, stream, out)

    def piece(self, content: str, off: int, t: float | None, stream: str) -> None:
        """A piece of a line (held until the next whole line of its stream)."""
        piece = self.pieces.get(stream)
        if piece is None:
            piece = self.pieces[stream] = _Piece(off, t)
        room = self.limit - piece.size
        if len(content) > room:
            content = content[: max(room, 0)]
            piece.cut = True
        if content:
            piece.parts.append(content)
            piece.size += len(content)
        piece.at = time.monotonic()

    def whole(self, content: str, off: int, t: float | None, stream: str, out: list[Line]) -> None:
        """A line's end (or a whole line): the line, its pieces joined, goes to ``out``."""
        piece = self.pieces.pop(stream, None)
        if piece is None:
            cut = len(content) > self.limit
            out.append((content[: self.limit] if cut else content, off, t, stream, cut, ()))
            return
        room = self.limit - piece.size
        cut = piece.cut or len(content) > room
        piece.parts.append(content[: max(room, 0)] if cut else content)
        out.append(("".join(piece.parts), piece.start, piece.ts, stream, cut, ()))

    def flush(self, older_than: float | None, out: list[Line]) -> None:
        """Pieces never completed (idle since ``older_than``, or all): sent, tagged."""
        for stream, p in list(self.pieces.items()):
            if older_than is None or p.at <= older_than:
                del self.pieces[stream]
                out.append(("".join(p.parts), p.start, p.ts, stream, p.cut, (PARTIAL_TAG,)))


def ascii_cri(
    self: Tailer, complete: bytes, off: int, now: float, d: Delivery, out: list[Message]
) -> None:
    """format: cri, ASCII text without CR, no multiline: the lines of one read, one at a
    time; whole lines straight to messages, pieces held, the rest (malformed lines)
    through :meth:`ContainerLines.take`.

    A line whose header has the shape of the last one parsed (the same second, fraction
    length and zone, so the same width) is taken by slicing at fixed places: its time is
    that second's (cached) + ``fraction / 10**length``, which is :func:`ns_time` of the
    line's ns (:meth:`ContainerLines.base`); the message is built inline
    (:func:`~qframe.message.new_log`'s body).  Its second is checked without a slice: a
    line starts with ``YYYY-MM-DDTHH:MM:SS.`` exactly when it sorts between that and
    ``YYYY-MM-DDTHH:MM:SS/`` (the next string of that length).  A piece of that shape is
    held here (not in :attr:`ContainerLines.pieces`) while the lines after it are whole
    lines of the other stream, and joined with the line that ends it; anything else
    first puts it where :meth:`ContainerLines.piece` would have."""
    cri = self.cri
    assert cri is not None
    pieces = cri.pieces
    limit = self.limit
    lines = complete.decode("ascii").split("\n")
    # only then can a line joined be longer than the limit; and a line, when ``big``
    long = len(complete) > limit
    big = long and max(map(len, lines)) > limit
    prefix = self._id_prefix
    path = self.path
    host = self.coll.host
    name = self.coll.name
    container = self.container
    append = out.append
    new = Message.__new__
    pos = off
    # the shape of the last timestamp: its second ("YYYY-MM-DDTHH:MM:SS.") and the next
    # string of its length, where its fraction is, where the rest of the header (zone,
    # stream, flag) is, where the text is (slices made once: not per line), the header of
    # whole and of partial lines of each stream, that second (+ the zone's offset),
    # 10.0 ** fraction length
    key = nxt = "-"
    frac_at = head_at = text_at = slice(0, 0)
    base, scale = 0.0, 1.0
    out_head = err_head = out_part = err_part = "-"
    # a piece of the last shape, held: (text, offset, time, stream); while one is, or
    # ``pieces`` holds one, or a line may be too long, a line is not ``quiet``
    held: tuple[str, int, float, str] | None = None
    quiet = not pieces and not big
    for ln in lines:
        head = ln[head_at]
        if head == out_head:
            stream = "stdout"
        elif head == err_head:
            stream = "stderr"
        else:
            stream = None
            if (head == out_part or head == err_part) and key <= ln < nxt:
                frac = ln[frac_at]
                if frac.isdigit():  # a piece, of the last shape
                    stream = "stdout" if head == out_part else "stderr"
                    t = base + float(frac) / scale
                    if quiet:
                        held = (ln[text_at], pos, t, stream)
                        quiet = False
                    else:
                        if held is not None:
                            cri.piece(*held)
                            held = None
                        cri.piece(ln[text_at], pos, t, stream)
                    pos += len(ln) + 1
                    continue
        if stream is not None and key <= ln < nxt:
            frac = ln[frac_at]
            if frac.isdigit():
                text = ln[text_at]
                if quiet:
                    m = new(Message)
                    m.message = text
                    m.time = base + float(frac) / scale
                    m.kind = KIND_LOG
                    m.level = 6
                    m.host = host
                    m.id = f"{prefix}{pos}"
                    m.source_path = [name]
                    m.source_success = True
                    m._labels = None
                    m._tags = None
                    m._fields = {"path": path, "offset": pos, "stream": stream}
                    m.container = container
                    m.metric = None
                    m.ack = d
                    append(m)
                elif held is not None and held[3] != stream:  # no piece of its stream
                    at = pos
                    append(
                        new_log(
                            text,
                            base + float(frac) / scale,
                            host,
                            [name],
                            f"{prefix}{at}",
                            {"path": path, "offset": at, "stream": stream},
                            d,
                            container,
                        )
                    )
                elif held is not None and (not long or len(held[0]) + len(text) <= limit):
                    at = held[1]  # the end of the piece held: the line joined
                    append(
                        new_log(
                            held[0] + text,
                            held[2],
                            host,
                            [name],
                            f"{prefix}{at}",
                            {"path": path, "offset": at, "stream": stream},
                            d,
                            container,
                        )
                    )
                    held = None
                    quiet = True  # ``held`` was only while ``pieces`` was empty, and not big
                else:
                    if held is not None:
                        cri.piece(*held)
                        held = None
                    _whole(self, text, pos, base + float(frac) / scale, stream, d, out)
                    quiet = not pieces and not big
                pos += len(ln) + 1
                continue
        if held is not None:  # held no longer: where the general parse keeps pieces
            cri.piece(*held)
            held = None
        n = len(ln)
        sp = ln.find(" ")
        kind = ln[sp + 1 : sp + 10]
        if kind in _HEADS:
            stamp = ln[:sp]
            ns = cri._ts(stamp.encode())
            if ns is not None:
                shape = _STAMP.fullmatch(stamp)
                if shape is not None:  # the new shape
                    zone = shape[3]
                    cache = cri.bases(zone)
                    b = cache.get(shape[1])
                    if b is None:
                        b = cri.base(cache, shape[1], zone)
                    if b is not None:
                        key, base = shape[1], b
                        nxt = key[:-1] + "/"
                        f_end = sp - len(zone)
                        scale = float(_SCALES[f_end - 20])
                        frac_at = slice(20, f_end)
                        head_at = slice(f_end, sp + 10)
                        text_at = slice(sp + 10, None)
                        out_head, err_head = zone + " stdout F ", zone + " stderr F "
                        out_part, err_part = zone + " stdout P ", zone + " stderr P "
                t = ns_time(ns)
                if kind[7] == "P":
                    cri.piece(ln[sp + 10 :], pos, t, kind[:6])
                else:
                    _whole(self, ln[sp + 10 :], pos, t, kind[:6], d, out)
                quiet = not pieces and not big
                pos += n + 1
                continue
        if n:
            whole: list[Line] = []
            cri.take(ln, pos, whole)
            self._container_lines(whole, pos + n + 1, now, d, out, [])
            quiet = not pieces and not big
        pos += n + 1
    if held is not None:
        cri.piece(*held)


_HEADS = frozenset(("stdout F ", "stderr F ", "stdout P ", "stderr P "))


def _whole(
    tl: Tailer, text: str, off: int, t: float, stream: str, d: Delivery, out: list[Message]
) -> None:
    """A whole line (or the end of one whose pieces are held) at ``off``: its message."""
    cri = tl.cri
    assert cri is not None
    got: list[Line] = []
    cri.whole(text, off, t, stream, got)
    text, off, ts, stream, cut, _tags = got[0]
    m = new_log(
        text,
        t if ts is None else ts,
        tl.coll.host,
        [tl.coll.name],
        f"{tl._id_prefix}{off}",
        {"path": tl.path, "offset": off, "stream": stream},
        d,
        tl.container,
    )
    if cut:
        tl._mark_truncated(m)
    out.append(m)
