"""The batch format on the broker: many messages in one payload, every attribute kept.

A payload is a 5-byte header and a body::

    b"QFB" | version (1 byte) | codec (1 byte: 0 none, 1 zstd, 2 gzip) | body

The body (after decompression) is the JSON array ``[containers, shared, records]``:

- ``containers``: each distinct :class:`~qframe.message.ContainerInfo` of the batch, once;
- ``shared``: each distinct :class:`~qframe.message.SharedFields` of the batch, once;
- ``records``: one array per message, ``[tagged, id, time, kind, level, host, message,
  source_path, source_success, labels, tags, fields, container, metric]``.  ``labels``,
  ``tags``, ``fields``, ``container`` and ``metric`` are ``0`` when absent; ``fields`` is
  a positive number ``k`` for ``shared[k - 1]`` and ``container`` one for
  ``containers[k - 1]``.  A run of messages that differ only in their id and text (a
  collector's read) is one record with ``tagged`` = 2, a list of ids in place of the id
  and a list of texts in place of the message.

JSON alone is not lossless (NaN and infinities, integers past 64 bits, bytes, strings with
lone surrogates): a record with such a value (``tagged`` = 1) writes it as a one-key object
``{"\\u0000": [type, text]}``, and a plain object that happens to have the key ``"\\u0000"``
as ``{"\\u0000": ["o", object]}``.  Times are the message's float as JSON's shortest exact
representation, so they come back to the bit (nanoseconds included, as far as the float holds
them).  Tuples and sets come back as lists, other objects as their ``str``.

:func:`decode` raises :class:`FutureFormat` for a payload of a newer version (a newer
aggregator can read it) and :class:`CorruptPayload` for anything that is not a valid batch.
"""

from __future__ import annotations

import gzip
import zlib
from itertools import groupby, repeat
from operator import attrgetter, is_
from typing import Any

import orjson

from ..batch import Runs, UniformBatch, read_ends
from ..message import ContainerInfo, Message, Metric, SharedFields, fields_of
from .ids import IdSource
from .tagging import CorruptPayload, tag, untag

__all__ = [
    "CODECS",
    "MAGIC",
    "VERSION",
    "CorruptPayload",
    "FutureFormat",
    "decode",
    "encode_batch",
    "encode_messages",
    "encode_payload",
    "encode_record",
    "payload",
]

MAGIC = b"QFB"
VERSION = 1
CODECS = {"none": 0, "zstd": 1, "gzip": 2}
#: the largest decompressed body accepted (a compression bomb is a corrupt payload)
MAX_BODY = 256 * 2**20
_OPTS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


class FutureFormat(ValueError):
    """A batch of a format version newer than this reader's."""


def _strict(obj: Any) -> Any:
    raise TypeError(type(obj).__name__)


# -- encoding ----------------------------------------------------------------------------
class _Tables:
    """The containers and shared fields of one batch, each once (by identity)."""

    __slots__ = ("cindex", "containers", "shared", "sindex", "size")

    def __init__(self) -> None:
        self.containers: list[bytes] = []
        self.cindex: dict[int, int] = {}
        self.shared: list[bytes] = []
        self.sindex: dict[int, int] = {}
        self.size = 0  # bytes of the entries
        # the objects are kept alive by the messages of the batch: ids are not reused


def encode_record(m: Message, tables: _Tables) -> bytes:
    """One message's record (the slow path is taken only when JSON alone would lose)."""
    c = m.container
    cref = 0
    if c is not None:
        cref = tables.cindex.get(id(c), 0)
        if not cref:
            entry = _dumps_exact(c.to_dict())
            tables.containers.append(entry)
            tables.size += len(entry) + 1
            cref = tables.cindex[id(c)] = len(tables.containers)
    f = m._fields
    fref: Any = 0
    if f:
        if type(f) is SharedFields:
            fref = tables.sindex.get(id(f), 0)
            if not fref:
                entry = _dumps_exact(dict(f))
                tables.shared.append(entry)
                tables.size += len(entry) + 1
                fref = tables.sindex[id(f)] = len(tables.shared)
        elif type(f) is bytes:  # the fields' JSON, not yet decoded (fields_of)
            # put in as it is; with a null in it, decoded (the null check below is ours)
            fref = orjson.Fragment(f) if b"null" not in f else fields_of(m)
        else:
            fref = f
    mt = m.metric
    rec = [
        0,
        m.id,
        m.time,
        m.kind,
        m.level,
        m.host,
        m.message,
        m.source_path,
        m.source_success,
        m._labels or 0,
        m._tags or 0,
        fref,
        cref,
        0 if mt is None else [mt.name, mt.type, mt.fields],
    ]
    try:
        data = orjson.dumps(rec, default=_strict, option=_OPTS)
    except (TypeError, orjson.JSONEncodeError):
        data = b""
    # orjson writes NaN and infinities as null; no null is ours, so a null means "look closer"
    if not data or b"null" in data:
        rec[0] = 1
        data = orjson.dumps(tag(rec))
    return data


def _dumps_exact(d: dict[str, Any]) -> bytes:
    try:
        data = orjson.dumps(d, default=_strict, option=_OPTS)
        if b"null" not in data:
            return b"[0," + data + b"]"
    except (TypeError, orjson.JSONEncodeError):
        pass
    return b"[1," + orjson.dumps(tag(d)) + b"]"


def _runnable(m: Message) -> bool:
    f = m._fields
    return (
        bool(m.message)
        and not m._labels
        and not m._tags
        and m.metric is None
        and (f is None or type(f) is SharedFields)
    )


def _run_end(batch: list[Message], i: int, n: int) -> int:
    """The end of the run from ``i`` of messages like ``batch[i - 1]`` but for id and text
    (all with an id, or none: the promise of a :class:`~qframe.batch.UniformBatch`)."""
    m = batch[i - 1]
    fields, t, host, path, cont = m._fields, m.time, m.host, m.source_path, m.container
    kind, level, ok, has_id = m.kind, m.level, m.source_success, bool(m.id)
    while i < n:
        x = batch[i]
        if not (
            bool(x.id) is has_id
            and x.message
            and x._fields is fields
            and x.time == t
            and x.container is cont
            and x.host == host
            and x.source_path == path
            and x.kind == kind
            and x.level == level
            and x.source_success is ok
            and not x._tags
            and not x._labels
            and x.metric is None
        ):
            break
        i += 1
    return i


_get_id = attrgetter("id")
_get_text = attrgetter("message")
_get_candidate = attrgetter(
    "_fields", "time", "container", "host", "kind", "level", "source_success", "source_path"
)


def _encode_run(
    run: list[Message], tables: _Tables, ids: IdSource | None, trusted: bool = False
) -> bytes:
    """One run record (``trusted``: a read on its maker's promise, of which only what the
    reader rejects is checked: texts and ids are strings, texts not empty, ids all or
    none; a broken promise is encoded message by message)."""
    m = run[0]
    # comprehensions: 3.11 specializes their slot reads (half the cost of map(attrgetter))
    id_list = [x.id for x in run]
    texts = [x.message for x in run]
    try:
        "".join(id_list), "".join(texts)  # strings only (else TypeError): no null in them
    except TypeError:
        return _encode_each(run, tables, ids)
    if trusted and not (all(texts) and (all(id_list) or not any(id_list))):
        return _encode_each(run, tables, ids)
    c = m.container
    cref = 0
    if c is not None:
        cref = tables.cindex.get(id(c), 0)
        if not cref:
            entry = _dumps_exact(c.to_dict())
            tables.containers.append(entry)
            tables.size += len(entry) + 1
            cref = tables.cindex[id(c)] = len(tables.containers)
    f = m._fields
    fref = 0
    if f:
        fref = tables.sindex.get(id(f), 0)
        if not fref:
            entry = _dumps_exact(dict(f))
            tables.shared.append(entry)
            tables.size += len(entry) + 1
            fref = tables.sindex[id(f)] = len(tables.shared)
    tag = 2
    if ids is not None and not id_list[0]:  # none has one: a range of ours, not a list
        tag, id_list = 3, [ids.prefix, ids.take(len(run))]  # type: ignore[list-item]
    rec = [
        tag,
        id_list,
        m.time,
        m.kind,
        m.level,
        m.host,
        texts,
        m.source_path,
        m.source_success,
        0,
        0,
        fref,
        cref,
        0,
    ]
    try:
        # orjson writes NaN and infinities as null: only the values the run shares can
        # hold one (ids and texts are strings), so only they are looked at
        rec[1] = rec[6] = 0
        data = orjson.dumps(rec, default=_strict, option=_OPTS)
        if b"null" in data:
            data = b""
        else:
            rec[1], rec[6] = id_list, texts
            data = orjson.dumps(rec, default=_strict, option=_OPTS)
    except (TypeError, orjson.JSONEncodeError):
        data = b""
    if not data:  # something JSON would lose: one record each
        if tag == 3:
            for x, k in zip(run, range(id_list[1], id_list[1] + len(run)), strict=True):  # type: ignore[call-overload]
                x.id = f"{ids.prefix}-{k:x}"  # type: ignore[union-attr]
        return _encode_each(run, tables, ids)
    return data


def _encode_each(run: list[Message], tables: _Tables, ids: IdSource | None) -> bytes:
    """A record per message (ids given first to those without one)."""
    if ids is not None:
        ids.assign(run)
    return b",".join([encode_record(x, tables) for x in run])


def encode_messages(
    batch: list[Message], ids: IdSource | None = None, ends: list[int] | None = None
) -> bytes:
    """The body of a batch of messages (runs of a collector's read encoded once).

    With ``ids``, every message without an id gets one (a run of them a range of ids).
    ``ends`` (default: :func:`~qframe.batch.read_ends` of the batch) are the ends of the
    batch's reads, each taken as a run on its maker's promise (:class:`UniformBatch`):
    only what the reader checks is looked at; without them, runs are found.
    """
    return _encode(batch, ids, ends, b"")


def encode_payload(
    batch: list[Message],
    ids: IdSource | None = None,
    ends: list[int] | None = None,
    codec: str = "none",
) -> bytes:
    """``payload(encode_messages(batch, ids, ends), codec)``; without compression the
    header and the body are put together in the body's one join (not copied again)."""
    if CODECS[codec]:
        return payload(_encode(batch, ids, ends, b""), codec)
    return _encode(batch, ids, ends, MAGIC + bytes((VERSION, 0)))


def _encode(
    batch: list[Message], ids: IdSource | None, ends: list[int] | None, head: bytes
) -> bytes:
    """:func:`encode_messages`, the body after ``head``."""
    tables = _Tables()
    out: list[bytes] = []
    put = out.append
    if ends is None:
        ends = read_ends(batch)
    if ends is not None:
        start = 0
        for end in ends:
            if end - start > 1 and _runnable(batch[start]):
                put(_encode_run(batch[start:end], tables, ids, trusted=True))
            elif end > start:
                _encode_slow(batch, start, end, tables, ids, put)
            start = end
        return encode_batch(out, tables, head)
    # candidate runs found by C loops (messages whose shared attributes compare equal,
    # consecutive), each then checked as a whole; the message-by-message rule otherwise
    keys = list(map(_get_candidate, batch))
    i = 0
    for _, group in groupby(range(len(batch)), keys.__getitem__):
        j = i + len(list(group))
        if j - i > 1 and _plain_run(batch[i:j]):
            put(_encode_run(batch[i:j], tables, ids))
        else:
            _encode_slow(batch, i, j, tables, ids, put)
        i = j
    return encode_batch(out, tables, head)


def _plain_run(run: list[Message]) -> bool:
    """Messages alike (by their candidate key) that make a run: nothing but id and text
    differs, texts are not empty, and all have an id or none has."""
    ids = list(map(_get_id, run))
    m = run[0]
    n = len(run)
    return (
        list(map(_get_rare, run)).count(_NOTHING_RARE) == n
        and all(map(_get_text, run))
        and (all(ids) or not any(ids))
        and _runnable(m)
        # equal is not enough: the same objects (a dict's key order is kept), the same types
        and all(map(is_, map(_get_fields, run), repeat(m._fields)))
        and all(map(is_, map(_get_container, run), repeat(m.container)))
        and len(set(map(type, map(_get_time, run)))) == 1
        and len(set(map(type, map(_get_level, run)))) == 1
        and len(set(map(type, map(_get_ok, run)))) == 1
    )


_get_rare = attrgetter("_tags", "_labels", "metric")
_get_fields = attrgetter("_fields")
_get_container = attrgetter("container")
_get_time = attrgetter("time")
_get_level = attrgetter("level")
_get_ok = attrgetter("source_success")
_NOTHING_RARE = (None, None, None)


def _encode_slow(
    batch: list[Message], i: int, n: int, tables: _Tables, ids: IdSource | None, put: Any
) -> None:
    while i < n:
        m = batch[i]
        i += 1
        if i < n and _runnable(m):
            j = _run_end(batch, i, n)
            if j > i:
                put(_encode_run(batch[i - 1 : j], tables, ids))
                i = j
                continue
        if ids is not None and not m.id:
            m.id = ids.next()
        put(encode_record(m, tables))


def encode_batch(records: list[bytes], tables: _Tables, head: bytes = b"") -> bytes:
    """The body: ``[containers, shared, records]`` (after ``head``), in one join (the
    records are most of the bytes: they are copied once)."""
    seq = [b","] * (2 * len(records) - 1) if records else []
    seq[0::2] = records
    return b"".join(
        (
            head,
            b"[[",
            b",".join(tables.containers),
            b"],[",
            b",".join(tables.shared),
            b"],[",
            *seq,
            b"]]",
        )
    )


def new_tables() -> _Tables:
    return _Tables()


def payload(body: bytes, codec: str = "none", level: int = 1) -> bytes:
    """Header and (compressed) body."""
    code = CODECS[codec]
    if code == 1:
        import zstandard

        body = zstandard.ZstdCompressor(level=level).compress(body)
    elif code == 2:
        body = gzip.compress(body, compresslevel=1)
    return MAGIC + bytes((VERSION, code)) + body


# -- decoding ----------------------------------------------------------------------------
def _body(data: bytes) -> bytes | memoryview:
    if len(data) < 5 or data[:3] != MAGIC:
        raise CorruptPayload("not a qframe batch (no QFB header)")
    version, code = data[3], data[4]
    if version > VERSION:
        raise FutureFormat(f"format version {version} (this reader knows {VERSION})")
    if version < 1:
        raise CorruptPayload(f"format version {version}")
    body = memoryview(data)[5:]  # not a copy of the payload
    try:
        if code == 0:
            return body
        if code == 1:
            import zstandard

            size = zstandard.frame_content_size(body)  # in the frame's header (ours: always)
            if size > MAX_BODY:
                raise CorruptPayload("body too large")
            if size >= 0:  # one call (the frame's own size bounds it)
                return zstandard.ZstdDecompressor().decompress(body)  # type: ignore[no-any-return]
            with zstandard.ZstdDecompressor().stream_reader(body) as r:
                out = r.read(MAX_BODY + 1)
            if len(out) > MAX_BODY:
                raise CorruptPayload("body too large")
            return out
        if code == 2:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(body, MAX_BODY)
            if d.unconsumed_tail or not d.eof:
                raise CorruptPayload("gzip body truncated or too large")
            return out
    except CorruptPayload:
        raise
    except Exception as exc:
        raise CorruptPayload(f"bad compression: {exc}") from None
    raise CorruptPayload(f"unknown codec {code}")


def _exact(pair: Any) -> dict[str, Any]:
    if type(pair) is not list or len(pair) != 2 or type(pair[1]) is not dict:
        raise CorruptPayload("bad table entry")
    return untag(pair[1]) if pair[0] else pair[1]


_new = Message.__new__
_STR = str


def decode(data: bytes, ack: Any = None, hop: str = "") -> list[Message]:
    """The messages of a payload (see the module's doc for the errors).

    ``ack`` is set as every message's delivery token, and ``hop`` (the reader's name),
    when given, appended to every message's ``source_path``.  A payload of run records
    only is a :class:`~qframe.batch.UniformBatch` (one) or :class:`~qframe.batch.Runs`.
    """
    body = _body(data)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CorruptPayload(f"not JSON: {exc}") from None
    if type(doc) is not list or len(doc) != 3 or not all(type(x) is list for x in doc):
        raise CorruptPayload("not a [containers, shared, records] array")
    try:
        return _messages(doc, ack, hop)
    except CorruptPayload:
        raise
    except Exception as exc:  # wrong types or shapes anywhere
        raise CorruptPayload(f"bad record: {exc!r}") from None


def _messages(doc: list[Any], ack: Any, hop: str) -> list[Message]:
    containers = [ContainerInfo.from_dict(_exact(c)) for c in doc[0]]
    shared = [SharedFields(_exact(s)) for s in doc[1]]
    records = doc[2]
    ends: list[int] | None = []  # the end of each run, while there are only runs
    out: list[Message] = []
    put = out.append
    new = _new
    s = _STR
    for rec in records:
        if type(rec) is not list or len(rec) != 14:
            raise CorruptPayload("a record is not a 14-item array")
        if rec[0] == 2 or rec[0] == 3:
            _run(rec, containers, shared, out, ack, hop)
            if ends is not None:
                ends.append(len(out))
            continue
        ends = None
        if rec[0]:
            rec = untag(rec)
        _, mid, t, kind, level, host, text, path, ok, labels, tags, fields, cref, mt = rec
        if not (
            type(mid) is s
            and type(kind) is s
            and type(host) is s
            and type(text) is s
            and type(level) is int
            and type(path) is list
            and type(ok) is bool
            and (type(t) is float or type(t) is int)
        ):
            raise CorruptPayload("a record has a value of the wrong type")
        m = new(Message)
        m.id = mid
        m.time = t
        m.kind = kind
        m.level = level
        m.host = host
        m.message = text
        if not all(type(p) is s for p in path):
            raise CorruptPayload("source_path is not a list of strings")
        if hop:
            path.append(hop)
        m.source_path = path
        m.source_success = ok
        if labels:
            if type(labels) is not dict:
                raise CorruptPayload("labels is not an object")
            m._labels = labels
        else:
            m._labels = None
        if tags:
            if type(tags) is not list:
                raise CorruptPayload("tags is not an array")
            m._tags = tags
        else:
            m._tags = None
        if type(fields) is int:
            m._fields = shared[fields - 1] if fields > 0 else None
        elif type(fields) is dict:
            m._fields = fields
        else:
            raise CorruptPayload("fields is neither an object nor a table reference")
        if cref:
            if type(cref) is not int or cref < 1:
                raise CorruptPayload("bad container reference")
            m.container = containers[cref - 1]
        else:
            m.container = None
        if mt:
            name, mtype, mfields = mt
            if type(name) is not s or type(mtype) is not s or type(mfields) is not dict:
                raise CorruptPayload("bad metric")
            m.metric = Metric(name, mfields, mtype)
        else:
            m.metric = None
        m.ack = ack
        put(m)
    if ends:
        return UniformBatch(out) if len(ends) == 1 else Runs(out, ends)
    return out


def _only_str(items: list[Any]) -> bool:
    """Every item a string (a join refuses anything else: one C pass, cheaper than
    looking at each item's type)."""
    try:
        "".join(items)
    except TypeError:
        return False
    return True


#: the two last hex digits of an id, in order: ``"00"`` … ``"ff"``
_HEX2 = [f"{i:02x}" for i in range(256)]


def _id_range(prefix: str, first: int, n: int) -> list[str]:
    """``f"{prefix}-{k:x}"`` for ``n`` numbers ``k`` from ``first``.

    Numbers that differ only in their last two hex digits share a stem (the prefix and
    the digits before those two): per block of up to 256 ids, the stem joined with their
    last digits and cut at the newlines, two C calls making one string per id and nothing
    else (formatting each number costs about as much again).  Numbers under 256, whose
    ids have fewer digits, and a prefix holding a newline are formatted id by id."""
    stop = first + n
    k = first
    if "\n" in prefix:
        k = stop
    elif k < 256:
        k = min(stop, 256)
    out = [f"{prefix}-{i:x}" for i in range(first, k)]
    hexes = _HEX2
    while k < stop:
        hi, lo = divmod(k, 256)
        end = min(stop, k - lo + 256)
        stem = f"{prefix}-{hi:x}"
        out += (stem + ("\n" + stem).join(hexes[lo : lo + end - k])).split("\n")
        k = end
    return out


def _run(
    rec: list[Any],
    containers: list[ContainerInfo],
    shared: list[SharedFields],
    out: list[Message],
    ack: Any,
    hop: str,
) -> None:
    """A run record's messages, appended to ``out``."""
    tag, ids, t, kind, level, host, texts, path, ok, labels, tags, fields, cref, mt = rec
    s = _STR
    made = tag == 3 and type(texts) is list  # ids made here: strings, none empty
    if made:
        if not (
            type(ids) is list
            and len(ids) == 2
            and type(ids[0]) is s
            and type(ids[1]) is int
            and ids[1] >= 0
        ):
            raise CorruptPayload("a bad id range")
        ids = _id_range(ids[0], ids[1], len(texts))
    if not (
        type(ids) is list
        and type(texts) is list
        and len(ids) == len(texts)
        and type(kind) is s
        and type(host) is s
        and type(level) is int
        and type(path) is list
        and type(ok) is bool
        and (type(t) is float or type(t) is int)
        and labels == 0
        and tags == 0
        and mt == 0
        and type(fields) is int
        and type(cref) is int
        and fields >= 0
        and cref >= 0
        and _only_str(path)
        and _only_str(texts)
        and all(texts)
        and (made or (_only_str(ids) and (all(ids) or not any(ids))))
    ):
        raise CorruptPayload("a bad run record")
    f = shared[fields - 1] if fields else None
    c = containers[cref - 1] if cref else None
    if hop:
        path = [*path, hop]
    # a read: its messages differ only in text and id (all have one, or none)
    put = out.append
    new = _new
    for mid, text in zip(ids, texts, strict=True):
        m = new(Message)
        m.message = text
        m.time = t
        m.kind = kind
        m.level = level
        m.host = host
        m.id = mid
        m.source_path = path.copy()
        m.source_success = ok
        m._labels = None
        m._tags = None
        m._fields = f
        m.container = c
        m.metric = None
        m.ack = ack
        put(m)
