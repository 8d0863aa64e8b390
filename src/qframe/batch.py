"""The fast paths over whole batches of messages: a collector's read, a batch's JSON lines.

:func:`new_logs` makes the messages of one read (:func:`~qframe.message.new_log` for
each text, inlined); :class:`UniformBatch` marks a read whose messages differ only in
their text; :func:`json_lines` encodes a batch as canonical JSON lines (the log
handler's ``format: json``), encoding a run of *plain* messages (see :func:`_run_end`,
where that word is defined) with one call for all their texts.  The results are the
same as those of the plain model (:mod:`qframe.message`): only faster.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import orjson

from .message import (
    KIND_LOG,
    ContainerInfo,
    Message,
    SharedFields,
    format_time,
    format_times,
    json_default,
)

__all__ = ["Runs", "UniformBatch", "clip_ends", "json_lines", "new_logs", "read_ends"]


class UniformBatch(list):  # type: ignore[type-arg]
    """A batch whose messages differ only in their (non-empty) text: a collector's read.

    Their ids may differ too, as long as all have one or none has (the nats collector's
    decoded read).  Made by a collector that knows it (the tcp collector, for a read
    without cut lines: ``UniformBatch(new_logs(...))``), so that :func:`json_lines` can encode the batch
    without comparing its messages.  The promise holds as long as no message in it is
    changed: the runtime hands on whatever a filter returns as a plain list, and the only
    change between a collector and a handler is the runtime's appending of the same name
    to every source_path.  Slicing or copying a batch gives a plain list; the channel's
    merge of uniform batches gives :class:`Runs`.
    """

    __slots__ = ()


class Runs(list):  # type: ignore[type-arg]
    """Uniform batches (:class:`UniformBatch`) one after another in one list: ``ends``
    holds the end index of each (the last is the length).  Made where reads are merged
    (the channel's merge, the nats handler's batches, the nats collector's decoding), so
    that :func:`json_lines` and the broker's encoder take each read whole; each segment
    keeps :class:`UniformBatch`'s promise, on the same terms.
    """

    __slots__ = ("ends",)

    def __init__(self, messages: list[Message] = (), ends: list[int] | None = None) -> None:  # type: ignore[assignment]
        super().__init__(messages)
        self.ends: list[int] = [] if ends is None else ends


def read_ends(batch: list[Message]) -> list[int] | None:
    """The end index of each read of a :class:`UniformBatch` or :class:`Runs` (None for
    another batch: nothing is known of its messages)."""
    t = type(batch)
    if t is UniformBatch:
        return [len(batch)] if batch else []
    if t is Runs:
        return batch.ends  # type: ignore[attr-defined, no-any-return]
    return None


def clip_ends(ends: list[int], start: int, stop: int, offset: int) -> list[int]:
    """The ends of the reads of ``batch[start:stop]`` (``ends`` those of ``batch``),
    shifted by ``offset`` (where that slice goes in another batch)."""
    out = []
    for e in ends:
        if e <= start:
            continue
        if e >= stop:
            out.append(stop - start + offset)
            break
        out.append(e - start + offset)
    return out


def new_logs(
    texts: list[str],
    time: float,
    host: str,
    source: str,
    fields: SharedFields | None = None,
    container: ContainerInfo | None = None,
) -> list[Message]:
    """One ``log`` message per text, all read by ``source`` at ``time`` (a collector's read).

    :func:`~qframe.message.new_log` for a whole batch, its body inlined in the loop (about
    15% cheaper than calling it per line).  ``fields``, when given, is shared by the
    messages (a :class:`~qframe.message.SharedFields`, copied on a change); each message
    has its own source_path.
    """
    out: list[Message] = []
    put = out.append
    new = Message.__new__
    for text in texts:
        m = new(Message)
        m.message = text
        m.time = time
        m.kind = KIND_LOG
        m.level = 6
        m.host = host
        m.id = ""
        m.source_path = [source]
        m.source_success = True
        m._labels = None
        m._tags = None
        m._fields = fields
        m.container = container
        m.metric = None
        m.ack = None
        put(m)
    return out


_MESSAGE_KEY = b',"message":'
_ID_KEY = b',"id":'
_get_message = attrgetter("message")
_get_id = attrgetter("id")


def _json_strings(texts: list[str], between: bytes) -> bytes:
    """``between.join(orjson.dumps(t) for t in texts)``, in one encoding when it can.

    JSON leaves DEL (0x7f) unescaped: texts without it are joined by it, encoded in one
    call, and each DEL of the result is a join (its quotes added), about half the cost.
    """
    if "\x7f" not in "".join(texts):
        return orjson.dumps("\x7f".join(texts)).replace(b"\x7f", b'"' + between + b'"')
    dumps = orjson.dumps
    return between.join([dumps(t) for t in texts])


def _json_pairs(run: list[Message], mid: bytes, between: bytes) -> bytes:
    """``between.join(dumps(m.id) + mid + dumps(m.message) for m in run)``, in one encoding
    when it can: ids and texts interleaved in one string, a DEL after each id and a rare
    printable separator (:data:`_RECORD_SEPS`) after each text, encoded in one call, and
    each separator replaced by its quoted join (JSON leaves both as they are; a one-byte
    pattern is replaced at memchr speed).  Each replacement's count is checked from the
    lengths (free): one of the separators in an id, a text or a join makes it come out
    wrong, and the next separator (or the message-by-message encoding) is used."""
    # comprehensions: 3.11 specializes their slot reads (half the cost of map(attrgetter))
    ids = [m.id for m in run]
    texts = [m.message for m in run]
    n = len(run)
    dumps = orjson.dumps
    quoted_mid = b'"' + mid + b'"'
    quoted_between = b'"' + between + b'"'
    for sep in _RECORD_SEPS:
        # id, DEL, text, separator: the pattern repeated, its slots filled by slice
        # assignments (C loops, no tuple per message)
        parts = ["", "\x7f", "", sep] * n
        parts[0::4] = ids
        parts[2::4] = texts
        parts.pop()
        data = dumps("".join(parts))
        out = data.replace(sep.encode(), quoted_between)
        if len(out) - len(data) != (n - 1) * (len(quoted_between) - 1):
            continue
        data = out.replace(b"\x7f", quoted_mid)
        if len(data) - len(out) == n * (len(quoted_mid) - 1):
            return data
    return between.join([dumps(a) + mid + dumps(b) for a, b in zip(ids, texts, strict=True)])


#: printable ASCII that JSON leaves as it is and writes in no escape of its own, rare in
#: log lines: the separator of the texts in :func:`_json_pairs`'s one encoding
_RECORD_SEPS = ("`", "~", "^", "|")


def _run_end(batch: list[Message], i: int, stop: int) -> int:
    """The end (at most ``stop``) of the run of plain messages that starts at ``batch[i]``;
    ``i`` when ``batch[i]`` is not plain.

    A message is *plain* when its JSON is its text (and its id) between parts that other
    messages can share: it has a text; no tags, labels or metric; and its fields are
    none or a :class:`~qframe.message.SharedFields`.  A *run* is plain messages that
    share all the rest with the first one (the same fields and container objects, time,
    host, source_path, kind, level, source_success), and all have an id or none has.
    This is the one place that rule is written; ``ack`` is not part of the JSON.
    """
    m = batch[i]
    fields = m._fields
    if not (fields is None or type(fields) is SharedFields):
        return i
    t, host, path, cont = m.time, m.host, m.source_path, m.container
    kind, level, ok, has_id = m.kind, m.level, m.source_success, bool(m.id)
    while i < stop:
        x = batch[i]  # the first one is compared with itself: only its plainness counts
        if not (
            x._fields is fields
            and x.time == t
            and x.host == host
            and x.source_path == path
            and x.container is cont
            and x.kind == kind
            and x.level == level
            and x.source_success is ok
            and x.message
            and bool(x.id) is has_id
            and not x._tags
            and not x._labels
            and x.metric is None
        ):
            break
        i += 1
    return i


def _fields_run_end(batch: list[Message], i: int, stop: int) -> int:
    """The end (at most ``stop``) of the *fields run* that starts at ``batch[i]``: messages
    that are plain but for their fields, which are their own (a parser's output: json, kv,
    dissect, grok; a file's lines), and their time; each has a text and fields that are
    not empty, and they share all the rest with the first one, as a run of plain messages
    does (:func:`_run_end`)."""
    m = batch[i]
    if not m._fields:
        return i
    host, path, cont = m.host, m.source_path, m.container
    kind, level, ok, has_id = m.kind, m.level, m.source_success, bool(m.id)
    while i < stop:
        x = batch[i]
        if not (
            x._fields
            and x.host == host
            and x.source_path == path
            and x.container is cont
            and x.kind == kind
            and x.level == level
            and x.source_success is ok
            and x.message
            and bool(x.id) is has_id
            and not x._tags
            and not x._labels
            and x.metric is None
        ):
            break
        i += 1
    return i


_FIELDS_KEY = b',"fields":'
_TIME_KEY = b'{"@timestamp":'
_SEP = "\x7f"
_ENC_SEP = b',"\x7f",'


def _fields_run(first: bytes, run: list[Message], m: Message) -> bytes | None:
    """The lines of a fields run (:func:`_fields_run_end`) that follows ``m``, whose line
    (without its newline) is ``first``: ``first`` is cut around its time (when the run's
    times differ: a container log file's lines have their own), id, text and fields, and
    each line is those parts with its own values put in.

    The values of the whole run are encoded in one call, as one list with a DEL string
    after each (so fields nest as deep as in a message, and fail where they would): the
    encoding is cut at each ``,"<DEL>",``.  Only a list holding a DEL string inside some
    fields makes more cuts than that; then None (the caller encodes the run message by
    message).
    """
    dumps = orjson.dumps
    fields = [x._fields for x in run]
    if not m.id and set(map(type, fields)) == _BYTES:
        data = _raw_fields_run(first, run, m, fields)
        if data is not None:
            return data
    cols: list[Any] = []  # the values that differ, in the order of the line
    spans: list[tuple[int, int]] = []  # where the first message's are in ``first``
    times = [x.time for x in run]
    if times[-1] != m.time or times.count(m.time) != len(times):
        start = len(_TIME_KEY)
        spans.append((start, start + len(dumps(format_time(m.time)))))
        cols.append(format_times(times))
    if m.id:
        at = first.index(_ID_KEY) + len(_ID_KEY)
        spans.append((at, at + len(dumps(m.id))))
        cols.append(map(_get_id, run))
    cut = first.index(_MESSAGE_KEY) + len(_MESSAGE_KEY)
    after = cut + len(dumps(m.message))
    spans.append((cut, after))
    cols.append(map(_get_message, run))
    at = first.index(_FIELDS_KEY, after) + len(_FIELDS_KEY)
    spans.append((at, at + _fields_len(m._fields)))
    if bytes in map(type, fields):  # JSON not yet decoded (fields_of): put in as it is
        fields = [orjson.Fragment(x) if type(x) is bytes else x for x in fields]
    cols.append(fields)
    sep = repeat(_SEP)
    seq = list(chain.from_iterable(zip(*(x for c in cols for x in (c, sep)), strict=False)))
    seq.pop()
    parts = dumps(seq, default=json_default)[1:-1].split(_ENC_SEP)
    if len(parts) != len(cols) * len(run):
        return None
    return _glue(first, spans, parts, len(run), flat=True)


_BYTES = {bytes}


def _fields_len(f: Any) -> int:
    """The length of ``f``'s JSON in a line (bytes: that JSON, put in as it is)."""
    return len(f) if type(f) is bytes else len(orjson.dumps(f, default=json_default))


def _glue(
    first: bytes, spans: list[tuple[int, int]], cols: list[Any], n: int, flat: bool = False
) -> bytes:
    """``n`` lines: each is ``first`` with the part at each span replaced by the line's
    value (already encoded) of the matching column of ``cols`` — or, ``flat``, the
    values of ``cols`` line by line (one list).

    The separators are the same for every line: one list of the right shape is made by
    repeating them, and the values are put in by slice assignments (C loops)."""
    seps = []
    prev = 0
    for start, end in spans:
        seps.append(first[prev:start])
        prev = end
    tail = first[prev:] + b"\n"
    k = len(spans)
    unit: list[Any] = []
    for j in range(1, k):
        unit += (None, seps[j])
    unit += (None, tail + seps[0])
    seq = unit * n
    if flat:
        seq[0::2] = cols
    else:
        for j, col in enumerate(cols):
            seq[2 * j :: 2 * k] = col
    seq[-1] = tail
    seq.insert(0, seps[0])
    return b"".join(seq)


def _raw_fields_run(
    first: bytes, run: list[Message], m: Message, fields: list[bytes]
) -> bytes | None:
    """:func:`_fields_run` when every message's fields are still their JSON (a worker's
    result, :func:`~qframe.message.fields_of`) and none has an id: those bytes put in as
    they are, the texts encoded in one call (joined by DEL, which JSON leaves as it is,
    and cut there), each distinct time once.  None when a text holds a DEL."""
    dumps = orjson.dumps
    # a DEL of a text's own makes more parts than texts (JSON leaves DEL as it is)
    texts = dumps(_SEP.join([x.message for x in run]))[1:-1].split(b"\x7f")
    if len(texts) != len(run):
        return None
    cols: list[Any] = []
    spans: list[tuple[int, int]] = []
    times = [x.time for x in run]
    if times.count(m.time) != len(times):
        start = len(_TIME_KEY)
        spans.append((start, start + len(dumps(format_time(m.time)))))
        enc = {t: dumps(format_time(t)) for t in set(times)}
        cols.append(map(enc.__getitem__, times))
    cut = first.index(_MESSAGE_KEY) + len(_MESSAGE_KEY)
    after = cut + len(dumps(m.message))
    spans.append((cut + 1, after - 1))  # the text's JSON without its quotes
    cols.append(texts)
    at = first.index(_FIELDS_KEY, after) + len(_FIELDS_KEY)
    spans.append((at, at + _fields_len(m._fields)))
    cols.append(fields)
    return _glue(first, spans, cols, len(run))


def json_lines(batch: list[Message]) -> bytes:
    """The canonical JSON of every message, each followed by a newline.

    The same bytes as ``m.to_json() + b"\\n"`` for each message, made faster for the
    usual batch: a collector's read, whose lines differ only in their text (same time,
    host, path, container and the same :class:`~qframe.message.SharedFields`, or no
    fields).  The first message of such a run (:func:`_run_end`) is encoded in full and
    cut around its ``"message"`` value; the others are that head, their own encoded
    text and that tail.  A parser's output, whose lines differ in their text and their
    own fields (:func:`_fields_run_end`), is cut likewise around the text and the fields.
    Any other message is encoded on its own.  A :class:`UniformBatch` is one such run by
    its maker's promise, and each read of :class:`Runs`: only its first message is
    looked at.
    """
    dumps = orjson.dumps
    ends = read_ends(batch)
    # where each read starts -> its end (a read is taken whole: only its first is looked at)
    reads = dict(zip([0, *ends], ends, strict=False)) if ends else None
    out: list[bytes] = []
    put = out.append
    containers: dict[int, Any] = {}
    i, n = 0, len(batch)
    while i < n:
        m = batch[i]
        line = dumps(m.to_dict(containers), default=json_default)
        put(line)
        put(b"\n")
        end = reads.get(i) if reads is not None else None
        if end is not None:
            j = end if _run_end(batch, i, i + 1) == i + 1 else i
        else:
            j = _run_end(batch, i, n)
        i += 1
        if j <= i:
            k = _fields_run_end(batch, i - 1, n) if m._fields else 0
            if k > i:
                data = _fields_run(line, batch[i:k], m)
                if data is not None:
                    put(data)
                    i = k
            continue
        # the keys before "message" hold strings, whose quotes are escaped: the first
        # unescaped ',"message":' is that key
        cut = line.index(_MESSAGE_KEY) + len(_MESSAGE_KEY)
        tail = line[cut + len(dumps(m.message)) :] + b"\n"
        if m.id:  # "id" is the second key: head, id, the keys between, text, tail
            at = line.index(_ID_KEY) + len(_ID_KEY)
            head = line[:at]
            mid = line[at + len(dumps(m.id)) : cut]
            put(head)
            put(_json_pairs(batch[i:j], mid, tail + head))
        else:
            head = line[:cut]
            put(head)
            put(_json_strings(list(map(_get_message, batch[i:j])), tail + head))
        put(tail)
        i = j
    return b"".join(out)
