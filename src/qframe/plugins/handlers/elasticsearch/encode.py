"""Messages → Logstash-style documents and ``_bulk`` action lines.

A document has ``@timestamp`` (RFC 3339, microseconds), ``message``, the parsed
``fields`` at the top level (a field named like a core key goes under ``fields``),
``kind``, ``level``, ``host``, ``source_path``, ``tags``, ``labels``, ``container``
(id, name, image, image_id, labels, ips, created, command, service_*, task_slot) and
``metric`` (name, type, fields) when present.  Label keys may be de-dotted
(``com.docker.compose.project`` → ``com_docker_compose_project``) so that they do not
turn into nested objects that conflict with each other in the index mapping (Compose
sets both ``com.docker.compose.project`` and ``com.docker.compose.project.working_dir``).
The same applies to the keys of maps nested in the fields (a docker event's
``attributes``); top-level field names are kept as they are.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any

import orjson

from ....ecs import document as ecs_document
from ....message import ContainerInfo, Message, fields_of, format_time, json_default

__all__ = ["DocumentEncoder"]

CORE_KEYS = frozenset(
    (
        "@timestamp",
        "message",
        "kind",
        "level",
        "host",
        "source_path",
        "tags",
        "labels",
        "container",
        "metric",
        "fields",
    )
)
_CORE_DISJOINT = CORE_KEYS.isdisjoint
_SUBSECOND = re.compile(r"%[MSfsT]|%c|%X|%r|%R")
_OPTS = orjson.OPT_NON_STR_KEYS


class DocumentEncoder:
    """Encodes one message into its ``_bulk`` action line and document (one bytes value)."""

    def __init__(
        self,
        index: str,
        op_type: str = "index",
        dedot: bool = True,
        dedot_char: str = "_",
        generate_ids: bool = True,
        ecs: bool = False,
    ) -> None:
        self.index = index
        if ecs:  # the ECS shape (qframe/ecs.py) instead of qframe's own
            self.document = self._ecs_document  # type: ignore[method-assign]
        self.op_type = op_type
        self.dedot = dedot
        self.dedot_char = dedot_char
        self.generate_ids = generate_ids
        # the index name is cached per hour (per call when the pattern has minutes)
        self._per_call = bool(_SUBSECOND.search(index))
        self._index_cache: dict[int, bytes] = {}
        self._containers: dict[int, tuple[ContainerInfo, orjson.Fragment]] = {}
        self._id_prefix = os.urandom(6).hex()
        self._seq = 0
        self._action_head = b'{"' + op_type.encode() + b'":{"_index":'

    # -- pieces ------------------------------------------------------------------------
    def index_for(self, t: float) -> bytes:
        """The JSON-quoted index name for an event time (UTC)."""
        if self._per_call:
            return orjson.dumps(time.strftime(self.index, time.gmtime(t)))
        hour = int(t // 3600)
        name = self._index_cache.get(hour)
        if name is None:
            if len(self._index_cache) > 1000:
                self._index_cache.clear()
            name = orjson.dumps(time.strftime(self.index, time.gmtime(hour * 3600)))
            self._index_cache[hour] = name
        return name

    def _dedot(self, d: dict[str, str]) -> dict[str, str]:
        c = self.dedot_char
        return {k.replace(".", c): v for k, v in d.items()}

    def _dedot_maps(self, f: dict[Any, Any]) -> dict[Any, Any]:
        """Fields whose nested maps (docker-event attributes …) have de-dotted keys."""
        c = self.dedot_char

        def walk(d: dict[Any, Any]) -> dict[Any, Any]:
            return {
                (k.replace(".", c) if type(k) is str else k): (walk(v) if type(v) is dict else v)
                for k, v in d.items()
            }

        return {k: (walk(v) if type(v) is dict else v) for k, v in f.items()}

    def container(self, c: ContainerInfo) -> orjson.Fragment:
        hit = self._containers.get(id(c))
        if hit is not None and hit[0] is c:
            return hit[1]
        d = c.to_dict()
        if self.dedot and c.labels:
            d["labels"] = self._dedot(c.labels)
        frag = orjson.Fragment(orjson.dumps(d, default=json_default, option=_OPTS))
        if len(self._containers) > 10_000:
            self._containers.clear()
        # the ContainerInfo is kept referenced, so its id() cannot be reused meanwhile
        self._containers[id(c)] = (c, frag)
        return frag

    def document(self, m: Message) -> dict[str, Any]:
        # the lazy parts are read without creating them (Message creates them on access)
        f = fields_of(m)
        if f:
            if self.dedot:
                for v in f.values():
                    if type(v) is dict:
                        f = self._dedot_maps(f)
                        break
            if _CORE_DISJOINT(f):
                doc = f.copy()
            else:
                doc = {k: v for k, v in f.items() if k not in CORE_KEYS}
                doc["fields"] = {k: v for k, v in f.items() if k in CORE_KEYS}
        else:
            doc = {}
        doc["@timestamp"] = format_time(m.time)
        if m.message:
            doc["message"] = m.message
        doc["kind"] = m.kind
        doc["level"] = m.level
        if m.host:
            doc["host"] = m.host
        if m.source_path:
            doc["source_path"] = m.source_path
        if m._tags:
            doc["tags"] = m._tags
        lb = m._labels
        if lb:
            doc["labels"] = self._dedot(lb) if self.dedot else lb
        if m.container is not None:
            doc["container"] = self.container(m.container)
        if m.metric is not None:
            doc["metric"] = m.metric.to_dict()
        return doc

    def _ecs_document(self, m: Message) -> dict[str, Any]:
        return ecs_document(m, dedot=self.dedot, dedot_char=self.dedot_char)

    def doc_id(self, m: Message) -> str:
        i = m.id
        if i:
            # Elasticsearch refuses ids over 512 bytes: a long one is replaced by its digest
            if len(i) > 128 and len(i.encode()) > 512:
                return "sha256:" + hashlib.sha256(i.encode()).hexdigest()
            return i
        if not self.generate_ids:
            return ""
        self._seq += 1
        return f"{self._id_prefix}{self._seq:x}"

    # -- the hot path ------------------------------------------------------------------
    def encode(self, m: Message) -> bytes:
        """``{action}\\n{document}\\n`` for one message."""
        body = orjson.dumps(self.document(m), default=json_default, option=_OPTS)
        _id = self.doc_id(m)
        index = self.index_for(m.time)
        if _id:
            parts = (self._action_head, index, b',"_id":', orjson.dumps(_id), b"}}\n", body, b"\n")
            return b"".join(parts)
        return b"".join((self._action_head, index, b"}}\n", body, b"\n"))


def split_item(data: bytes) -> tuple[dict[str, Any], Any]:
    """(action metadata, document) of an encoded item (for dead-letter records)."""
    action, _, doc = data.partition(b"\n")
    meta = next(iter(orjson.loads(action).values()))
    return meta, orjson.loads(doc)
