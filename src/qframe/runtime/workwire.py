"""What crosses the process boundary of a filter's workers (``workers: N``), encoded once.

A batch goes to a worker as columns (docs/design-notes.md, "Filter workers"): the texts,
then each attribute either once for the whole batch (a collector's read: the same time,
host, source_path for every message) or per message; containers once each. The worker
answers with what the filter changed: when its output is the very messages it was given, in
order (grok, date, mutate, …), only the attributes that changed, as columns the main process
sets with C loops (``map(setattr, …)``); otherwise rows naming the input message each output
message came from (drops, one-to-many), so that delivery tokens map back.

JSON (orjson) is the encoding: its dumps and loads beat pickle and marshal on these shapes
(measured: pickle of the messages ~4 µs/line, these columns ~0.1 µs/line in, the changed
fields ~1.8 µs/line back on a loaded machine). What orjson cannot encode (a big integer, a
non-string key) sends that batch as a pickle instead; values cross as JSON otherwise (a
tuple comes back as a list, a datetime as its ISO text).
"""

from __future__ import annotations

import marshal
import pickle
import struct
from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter, is_
from typing import Any

import orjson

from ..message import ContainerInfo, Delivery, Message, Metric, SharedFields, json_default

__all__ = [
    "HEADER",
    "IMMUTABLE",
    "MUTABLE",
    "Mark",
    "apply_result",
    "decode",
    "decode_batch",
    "decode_reply",
    "decode_texts",
    "encode",
    "encode_batch",
    "encode_reply",
    "encode_result",
    "encode_texts",
    "encode_texts_reply",
]

#: a frame between the main process and a worker: ``length u32 | type u8 | payload``
HEADER = struct.Struct("<IB")
_LEN = struct.Struct("<I")

#: attributes compared by value (immutable values)
IMMUTABLE = ("time", "kind", "level", "host", "id", "source_success")
#: attributes whose value a filter may change in place: sent back whenever non-empty
MUTABLE = ("_labels", "_tags", "_fields")

_get_message = attrgetter("message")
_get_path = attrgetter("source_path")
_getters = {a: attrgetter(a) for a in (*IMMUTABLE, *MUTABLE, "source_path", "container", "metric")}
_new = Message.__new__


def encode(obj: Any) -> bytes:
    """``J`` + JSON, or ``P`` + pickle when JSON cannot carry it."""
    try:
        return b"J" + orjson.dumps(obj, default=json_default)
    except TypeError:
        return b"P" + pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes | memoryview) -> Any:
    if data[:1] == b"J":
        return orjson.loads(data[1:])
    return pickle.loads(data[1:])


def _column(batch: list[Message], get: Callable[[Message], Any]) -> tuple[bool, Any]:
    """(True, value) when every message has the same value, else (False, the column)."""
    col = list(map(get, batch))
    first = col[0]
    if col.count(first) == len(col):
        return True, first
    return False, col


# time apart: a batch merged from several reads has several
_ALL = (*(a for a in IMMUTABLE if a != "time"), *MUTABLE, "source_path")
_get_all = attrgetter(*_ALL)
_get_imm = attrgetter(*IMMUTABLE)


def encode_batch(batch: list[Message]) -> bytes:
    """The columns of a (non-empty) batch."""
    cols: dict[str, Any] = {"message": list(map(_get_message, batch))}
    cols["time"] = list(_column(batch, _getters["time"]))
    same, v = _column(batch, _get_all)  # one pass: reads differ only in text and time
    if same:
        for a, x in zip(_ALL, v, strict=True):
            cols[a] = [True, x]
    else:
        for a in _ALL:
            same, x = _column(batch, _getters[a])
            cols[a] = [same, x]
    conts = list(map(_getters["container"], batch))
    if any(conts):
        table: dict[int, int] = {}
        ids = []
        for c in conts:
            if c is None:
                ids.append(None)
            else:
                ids.append(table.setdefault(id(c), len(table)))
        seen: dict[int, ContainerInfo] = {id(c): c for c in conts if c is not None}
        cols["container"] = ids
        cols["containers"] = [seen[i].to_dict() for i in table]
    metrics = list(map(_getters["metric"], batch))
    if any(metrics):
        cols["metric"] = [m.to_dict() if m is not None else None for m in metrics]
    same, v = cols["_fields"]
    if type(v) is bytes:  # fields still their JSON (a previous worker's): put in as they are
        cols["_fields"] = [True, orjson.Fragment(v)]
    elif not same and bytes in map(type, v):
        cols["_fields"] = [False, [orjson.Fragment(f) if type(f) is bytes else f for f in v]]
    return encode(cols)


class Mark(Delivery):
    """A worker's stand-in for a delivery token: the index of the input message (copies of
    a message share it, a drop counts it down)."""

    __slots__ = ("idx",)

    def __init__(self, idx: int) -> None:
        super().__init__(1, None)
        self.idx = idx


def _spread(same_v: list[Any], n: int, copy: Callable[[Any], Any] | None = None) -> list[Any]:
    same, v = same_v
    if not same:
        return v  # type: ignore[no-any-return]
    if copy is None or v is None:
        return [v] * n
    return [copy(v) for _ in range(n)]


def decode_batch(data: bytes) -> tuple[list[Message], dict[str, Any]]:
    """A worker's messages of a batch, and its columns (to tell what the filter changed)."""
    cols = decode(data)
    texts = cols["message"]
    n = len(texts)
    conts = None
    if "container" in cols:
        table = [ContainerInfo.from_dict(d) for d in cols["containers"]]
        conts = [None if i is None else table[i] for i in cols["container"]]
        cols["container_objs"] = conts
    metrics = cols.get("metric")
    same_f, fv = cols["_fields"]
    shared = SharedFields(fv) if same_f and fv else None  # copied on a change, as always
    if conts is None and not metrics and all(cols[a][0] for a in _ALL[:-1]):
        return _decode_read(cols, texts, shared), cols
    imm = [repeat(v, n) if same else v for same, v in (cols[a] for a in IMMUTABLE)]
    if conts is None:
        conts = repeat(None, n)
    mets = repeat(None, n) if not metrics else [Metric.from_dict(d) if d else None for d in metrics]
    rows = zip(
        texts,
        *imm,
        _spread(cols["_labels"], n, dict),
        _spread(cols["_tags"], n, list),
        repeat(shared, n) if same_f else fv,
        _spread(cols["source_path"], n, list),
        conts,
        mets,
        strict=True,
    )
    out = []
    put = out.append
    new = _new
    new_mark = Delivery.__new__
    i = 0
    for text, t, kind, level, host, mid, ok, lb, tg, fd, sp, c, mt in rows:
        m = new(Message)
        m.message = text
        m.time = t
        m.kind = kind
        m.level = level
        m.host = host
        m.id = mid
        m.source_path = sp
        m.source_success = ok
        m._labels = lb
        m._tags = tg
        m._fields = fd
        m.container = c
        m.metric = mt
        m.ack = mark = new_mark(Mark)
        mark.idx = i
        mark.pending = 1
        mark.callback = None
        i += 1
        put(m)
    return out, cols


def _decode_read(cols: dict[str, Any], texts: list[str], shared: Any) -> list[Message]:
    """:func:`decode_batch` of the usual batch, a read whose messages differ only in their
    text: the constant attributes as locals (as :func:`qframe.batch.new_logs` does)."""
    same_t, t = cols["time"]
    kind, level, host, mid, ok = (cols[a][1] for a in IMMUTABLE if a != "time")
    labels, tags = cols["_labels"][1], cols["_tags"][1]
    same_p, path = cols["source_path"]
    out = []
    put = out.append
    new = _new
    new_mark = Delivery.__new__
    i = 0
    for text in texts:
        m = new(Message)
        m.message = text
        m.time = t if same_t else t[i]
        m.kind = kind
        m.level = level
        m.host = host
        m.id = mid
        m.source_path = list(path) if same_p else path[i]
        m.source_success = ok
        m._labels = dict(labels) if labels else None
        m._tags = list(tags) if tags else None
        m._fields = shared
        m.container = None
        m.metric = None
        m.ack = mark = new_mark(Mark)
        mark.idx = i
        mark.pending = 1
        mark.callback = None
        i += 1
        put(m)
    return out


def _untouched(col: list[Any], v: dict[str, Any]) -> bool:
    """Every message still has the batch's shared fields (a :class:`SharedFields` is
    copied on a change through ``Message.fields``), and they hold what came."""
    first = col[0]
    return type(first) is SharedFields and all(map(is_, col, repeat(first))) and first == v


def _metric_dict(m: Metric | None) -> dict[str, Any] | None:
    return None if m is None else m.to_dict()


def encode_result(inp: list[Message], cols: dict[str, Any], out: list[Message]) -> dict[str, Any]:
    """What the filter made of ``inp`` (decoded from ``cols``): changed columns or rows."""
    n = len(inp)
    if len(out) == n and all(map(is_, out, inp)):
        changed: dict[str, Any] = {}
        texts = list(map(_get_message, out))
        if texts != cols["message"]:
            changed["message"] = texts
        if not (
            all(cols[a][0] for a in IMMUTABLE)
            and list(map(_get_imm, out)).count(tuple(cols[a][1] for a in IMMUTABLE)) == n
        ):
            for a in IMMUTABLE:
                col = list(map(_getters[a], out))
                same, v = cols[a]
                if (col.count(v) != n) if same else (col != v):
                    changed[a] = col
        for a in MUTABLE:
            col = list(map(_getters[a], out))
            same, v = cols[a]
            if a == "_fields" and same and v and _untouched(col, v):
                continue  # the shared fields of a read, never changed: the main's stay
            if any(col) or (bool(v) if same else any(v)):
                changed[a] = col
        paths = list(map(_get_path, out))
        same, v = cols["source_path"]
        if (paths.count(v) != n) if same else (paths != v):
            changed["source_path"] = paths
        conts = list(map(_getters["container"], out))
        before = cols.get("container_objs")
        if (before is None and any(conts)) or (
            before is not None and not all(map(is_, conts, before))
        ):
            changed["container"] = [None if c is None else c.to_dict() for c in conts]
        metrics = list(map(_getters["metric"], out))
        if any(metrics) or "metric" in cols:
            changed["metric"] = list(map(_metric_dict, metrics))
        return {"same": changed}
    rows = []
    for m in out:
        mark = m.ack
        src = mark.idx if isinstance(mark, Mark) else -1
        c = m.container
        if c is None:
            cont: Any = 0
        elif src >= 0 and c is inp[src].container:
            cont = 1  # the input message's own
        else:
            cont = c.to_dict()
        rows.append(
            [
                src,
                m.message,
                m.time,
                m.kind,
                m.level,
                m.host,
                m.id,
                m.source_success,
                m._labels,
                m._tags,
                m._fields,
                m.source_path,
                cont,
                _metric_dict(m.metric),
            ]
        )
    return {"rows": rows}


_EMPTY: dict[str, Any] = {}


def _fields_blob(col: list[Any]) -> bytes | None:
    """Each message's fields as its JSON object (None for none), the list marshalled
    (its loads makes the ``bytes`` objects from their lengths: 30 ns a message where
    splitting a newline-joined blob scanned every byte, 135); None when orjson cannot
    encode them. As everywhere on this wire, values cross as JSON (a NaN comes back
    None)."""
    col = [f or _EMPTY for f in col]
    dumps = orjson.dumps
    try:
        parts = list(map(dumps, col))
    except TypeError:  # what orjson does not encode itself (a tuple, a datetime)
        try:
            parts = [dumps(f, default=json_default) for f in col]
        except TypeError:
            return None
    return _marshal_fields(parts)


def _marshal_fields(parts: list[Any]) -> bytes:
    """JSON objects (``bytes``; ``b""`` or ``b"{}"``: none) marshalled, None for none."""
    if b"{}" in parts or b"" in parts:
        parts = [p if p and p != b"{}" else None for p in parts]
    return marshal.dumps(parts, 2)  # version 2: no lookups of objects already written


def encode_reply(res: dict[str, Any]) -> bytes:
    """A worker's answer: ``X`` + the length of its JSON + that JSON + the changed fields
    (:func:`_fields_blob`), which the main process keeps as their JSON, one ``bytes`` per
    message (decoded only when something reads them: :func:`~qframe.message.fields_of`);
    :func:`encode` of it all when no fields changed, a pickle when JSON cannot carry them
    (a big integer, a key that is not a string)."""
    same = res.get("same")
    if same is not None:
        col = same.get("_fields")
    elif "rows" in res:
        col = [row[10] for row in res["rows"]]
    else:
        col = None
    if col is None:
        return encode(res)
    blob = _fields_blob(col)
    if blob is not None:
        if same is not None:
            same["_fields"] = len(col)
        else:
            for row in res["rows"]:
                row[10] = 0
        try:
            body = orjson.dumps(res, default=json_default)
        except TypeError:
            body = None
        if body is not None:
            return b"X" + _LEN.pack(len(body)) + body + blob
        if same is not None:  # back as they were, for the pickle
            same["_fields"] = col
        else:
            for row, f in zip(res["rows"], col, strict=True):
                row[10] = f
    return b"P" + pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)


def encode_texts(texts: list[str]) -> bytes:
    """The texts of a batch that crosses as texts only (:meth:`Filter.worker_texts`): ``N``
    + the texts joined by newlines (UTF-8, lone surrogates kept), or ``J`` + their JSON
    list when a text holds a newline (told by one ``memchr`` over the texts joined).
    Marshalled, the list cost the main process 45 ns a text (a UTF-8 copy of each, or a
    lookup in marshal's table of objects with other references) against 32 here; the
    worker's split is 111 against 47 — the main process is the one that serializes."""
    if "\n" in "".join(texts):
        return encode(texts)
    return b"N" + "\n".join(texts).encode("utf-8", "surrogatepass")


def decode_texts(data: bytes) -> list[str]:
    if data[:1] == b"N":
        return data[1:].decode("utf-8", "surrogatepass").split("\n")
    return decode(data)  # type: ignore[no-any-return]


def encode_texts_reply(fields: list[bytes], extra: Any, metrics: dict[str, Any]) -> bytes:
    """A worker's answer to texts: ``X`` as :func:`encode_reply`, its JSON ``{"t": extra,
    "m": metrics}`` and the fields objects marshalled (b"" or b"{}": none)."""
    body = orjson.dumps({"t": extra, "m": metrics})
    return b"X" + _LEN.pack(len(body)) + body + _marshal_fields(fields)


def decode_reply(data: bytes) -> dict[str, Any]:
    """:func:`encode_reply`'s (or :func:`encode_texts_reply`'s) result, the fields as their
    JSON (``bytes``) or None."""
    if data[:1] != b"X":
        return decode(data)  # type: ignore[no-any-return]
    (k,) = _LEN.unpack_from(data, 1)
    res: dict[str, Any] = orjson.loads(data[5 : 5 + k])
    parts: list[Any] = marshal.loads(memoryview(data)[5 + k :])
    if "t" in res:
        res["fields"] = parts
        return res
    same = res.get("same")
    if same is not None:
        same["_fields"] = parts
    else:
        for row, f in zip(res["rows"], parts, strict=True):
            row[10] = f
    return res


def _container_col(col: list[Any]) -> list[ContainerInfo | None]:
    cache: dict[bytes, ContainerInfo] = {}
    out: list[ContainerInfo | None] = []
    for d in col:
        if d is None:
            out.append(None)
            continue
        key = orjson.dumps(d)
        c = cache.get(key)
        if c is None:
            c = cache[key] = ContainerInfo.from_dict(d)
        out.append(c)
    return out


def apply_result(sel: list[Message], result: dict[str, Any]) -> tuple[list[Message], list[Message]]:
    """Apply a worker's result to the main process's messages ``sel``: (the output, the
    input messages the filter dropped — to be acknowledged)."""
    changed = result.get("same")
    if changed is not None:
        for a, col in changed.items():
            if a == "container":
                col = _container_col(col)
            elif a == "metric":
                col = [None if d is None else Metric.from_dict(d) for d in col]
            deque(map(setattr, sel, repeat(a), col), maxlen=0)
        return sel, []
    used = [False] * len(sel)
    out: list[Message] = []
    for row in result["rows"]:
        src = row[0]
        orig = None
        if 0 <= src < len(sel):
            orig = sel[src]
            if used[src]:
                m = _new(Message)
                m.ack = orig.ack
                if m.ack is not None:
                    m.ack.pending += 1  # one-to-many: the one token counts each
            else:
                m = orig
                used[src] = True
        else:
            m = _new(Message)
            m.ack = None
        (
            _,
            m.message,
            m.time,
            m.kind,
            m.level,
            m.host,
            m.id,
            m.source_success,
            m._labels,
            m._tags,
            m._fields,
            m.source_path,
            cont,
            met,
        ) = row
        if cont == 0:
            m.container = None
        elif cont == 1:
            m.container = orig.container if orig is not None else None
        else:
            m.container = ContainerInfo.from_dict(cont)
        m.metric = None if met is None else Metric.from_dict(met)
        out.append(m)
    dropped = [m for m, u in zip(sel, used, strict=True) if not u]
    return out, dropped
