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

import calendar
import os
import re
import time
from typing import TYPE_CHECKING, Any

import orjson

from ....message import KIND_LOG, ContainerInfo, Delivery, Message, new_log
from ....rfc3339 import TsParser

if TYPE_CHECKING:
    from .tailer import Tailer

__all__ = ["PARTIAL_TAG", "ContainerLines", "Line", "TimeText", "ascii_cri", "pod_container"]

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

# (text, offset of its first piece, time in ns (0: none), stream, cut, tags)
Line = tuple[str, int, int, str, bool, tuple[str, ...]]


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


class TimeText:
    """RFC 3339 text → seconds (float); the seconds part of the last line is cached."""

    __slots__ = ("_key", "_sec")

    def __init__(self) -> None:
        self._key = ""
        self._sec = 0

    def __call__(self, s: str) -> float | None:
        key = s[:19]
        if key != self._key:
            if len(s) < 20 or s[10] != "T":
                return None
            try:
                sec = calendar.timegm(time.strptime(key, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                return None
            self._key, self._sec = key, sec
        rest = s[19:]
        if rest[-1:] in ("Z", "z"):
            off = 0
            frac = rest[1:-1]
        elif len(rest) >= 6 and rest[-6] in "+-" and rest[-3] == ":":
            try:
                off = int(rest[-5:-3]) * 3600 + int(rest[-2:]) * 60
            except ValueError:
                return None
            if rest[-6] == "+":
                off = -off
            frac = rest[1:-6]
        else:
            return None
        if rest[:1] == ".":
            if not frac.isdigit():
                return None
            return self._sec + off + int(frac) / 10 ** len(frac)
        if frac or rest[:1] not in ("Z", "z", "+", "-"):
            return None
        return float(self._sec + off)

    def layout(self, s: str) -> tuple[str, int, str, int, int] | None:
        """The shape of a timestamp just parsed (``s``, with a fraction): (its first 20
        characters, the fraction's length, the zone suffix, seconds + offset, 10 ** the
        fraction's length), so that later ones of the same shape are parsed by slicing:
        ``base + int(fraction) / scale``, the same arithmetic as :meth:`__call__`."""
        if s[:19] != self._key or s[19:20] != ".":
            return None
        if s[-1:] in ("Z", "z"):
            suffix, off = s[-1], 0
        else:
            suffix = s[-6:]
            off = int(suffix[1:3]) * 3600 + int(suffix[4:6]) * 60
            if suffix[0] == "+":
                off = -off
        fl = len(s) - 20 - len(suffix)
        if fl <= 0:
            return None
        return s[:20], fl, suffix, self._sec + off, 10**fl


class _Piece:
    __slots__ = ("at", "cut", "parts", "size", "start", "ts")

    def __init__(self, start: int, ts: int) -> None:
        self.start = start
        self.ts = ts
        self.parts: list[str] = []
        self.size = 0
        self.cut = False
        self.at = time.monotonic()


class ContainerLines:
    """Whole lines of one container log file; pieces joined per stream."""

    def __init__(self, fmt: str, limit: int) -> None:
        self.json = fmt == "docker-json"
        self.limit = limit
        self.pieces: dict[str, _Piece] = {}
        self.malformed = 0  # lines that are not of the format (kept as text, tagged)
        self._ts = TsParser()  # caches the seconds part: lines of one second parse fast

    @property
    def pending_start(self) -> int | None:
        if not self.pieces:
            return None
        return min(p.start for p in self.pieces.values())

    def _parse(self, text: str) -> tuple[int, str, bool, str] | None:
        """(time ns, stream, partial, content) of a raw line, None if malformed."""
        if self.json:
            try:
                obj: Any = orjson.loads(text)
                log, stream, ts = obj["log"], obj.get("stream", "stdout"), obj.get("time", "")
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return None
            if not isinstance(log, str) or stream not in STREAMS or not isinstance(ts, str):
                return None
            ns = self._ts(ts.encode()) if ts else 0
            if ns is None:
                return None
            if log.endswith("\n"):
                return ns, stream, False, log[:-1]
            return ns, stream, True, log
        parts = text.split(" ", 3)
        if len(parts) < 3 or parts[1] not in STREAMS or parts[2] not in ("P", "F"):
            return None
        ns = self._ts(parts[0].encode("ascii", "replace"))
        if ns is None:
            return None
        return ns, parts[1], parts[2] == "P", parts[3] if len(parts) == 4 else ""

    def take(self, text: str, off: int, out: list[Line]) -> None:
        """One raw line at ``off``: a whole line is appended to ``out`` (pieces are held)."""
        r = self._parse(text)
        if r is None:
            self.malformed += 1
            out.append((text, off, 0, "stdout", False, (PARSE_FAILURE_TAG,)))
            return
        ns, stream, partial, content = r
        piece = self.pieces.get(stream)
        if partial:
            if piece is None:
                piece = self.pieces[stream] = _Piece(off, ns)
            room = self.limit - piece.size
            if len(content) > room:
                content = content[: max(room, 0)]
                piece.cut = True
            if content:
                piece.parts.append(content)
                piece.size += len(content)
            piece.at = time.monotonic()
            return
        if piece is None:
            cut = len(content) > self.limit
            out.append((content[: self.limit] if cut else content, off, ns, stream, cut, ()))
            return
        del self.pieces[stream]
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


_HEADS = (" stdout F ", " stderr F ")


def ascii_cri(
    self: Tailer, complete: bytes, off: int, now: float, d: Delivery, out: list[Message]
) -> None:
    """format: cri, ASCII text: whole ``F`` lines straight to messages (the rest through
    :meth:`ContainerLines.take`).

    A line whose timestamp has the shape of the last one parsed (the same second, fraction
    length and zone: :meth:`TimeText.layout`) is taken by slicing at fixed places; the
    message is built inline (:func:`~qframe.message.new_log`'s body)."""
    cri = self.cri
    assert cri is not None
    pieces = cri.pieces
    ts = self._time_text
    limit = self.limit
    prefix = self._id_prefix
    path = self.path
    host = self.coll.host
    name = self.coll.name
    container = self.container
    append = out.append
    new = Message.__new__
    pos = off
    # the shape of the last timestamp: its head (to the fraction), where its fraction
    # ends, where the stream and the F flag after the zone end, those ends (zone, stream,
    # flag) of stdout and stderr lines, seconds + offset, 10 ** fraction length
    key, f_end, t_end, out_tail, err_tail, base, scale = "", 0, 0, "-", "-", 0, 1
    for ln in complete.decode("ascii").split("\n"):
        tail = ln[f_end:t_end]
        stream = "stdout" if tail == out_tail else "stderr" if tail == err_tail else ""
        if stream and ln[:20] == key and not pieces:
            frac = ln[20:f_end]
            if frac.isdigit():
                text = ln[t_end:]
                m = new(Message)
                m.message = text
                m.time = base + int(frac) / scale
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
                if len(text) > limit:
                    m.message = text[:limit]
                    self._mark_truncated(m)
                append(m)
                pos += len(ln) + 1
                continue
        n = len(ln)
        sp = ln.find(" ")
        head = ln[sp + 1 : sp + 10]
        if (head == "stdout F " or head == "stderr F ") and not pieces:
            stamp = ln[:sp]
            t = ts(stamp)
            if t is not None:
                shape = ts.layout(stamp)
                if shape is not None:
                    key, fl, suffix, base, scale = shape
                    f_end = 20 + fl
                    t_end = f_end + len(suffix) + 10
                    out_tail = suffix + " stdout F "
                    err_tail = suffix + " stderr F "
                text = ln[sp + 10 :]
                m = new_log(
                    text if len(text) <= limit else text[:limit],
                    t,
                    host,
                    [name],
                    f"{prefix}{pos}",
                    {"path": path, "offset": pos, "stream": head[:6]},
                    d,
                    container,
                )
                if len(text) > limit:
                    self._mark_truncated(m)
                append(m)
                pos += n + 1
                continue
        if n:
            whole: list[Line] = []
            cri.take(ln, pos, whole)
            self._container_lines(whole, pos + n + 1, now, d, out, [])
        pos += n + 1
