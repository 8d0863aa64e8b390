"""qframe's message → an Elastic Common Schema (ECS) document: the mapping, defined once.

Used by the elasticsearch handler with ``ecs-compatibility: v1|v8`` (and documented in
docs/grok.md, "ECS").  The grok filter's ECS library (``ecs-compatibility`` on grok)
captures into nested ECS fields (``[source][address]`` → ``fields.source.address``);
this mapping puts those fields at the top of the document, beside the ones below.

| qframe                          | ECS document                                         |
|---------------------------------|------------------------------------------------------|
| ``time``                        | ``@timestamp``                                       |
| ``message``                     | ``message`` and ``event.original``                   |
| ``kind`` log / event / metric   | ``event.kind`` event / event / metric                |
| ``level`` (syslog severity 0-7) | ``log.level`` (its name: emergency … debug) and      |
|                                 | ``log.syslog.severity.code``                         |
| ``host``                        | ``host.name``                                        |
| ``container.id`` / ``name``     | ``container.id`` / ``container.name``                |
| ``container.image``             | ``container.image.name``                             |
| ``container.image_id``          | ``container.image.hash.all`` (a list of one)         |
| ``container.labels``            | ``container.labels`` (keys de-dotted)                |
| other container attributes      | ``qframe.container.*`` (ips, created, command, …)    |
| ``labels`` / ``tags``           | ``labels`` (keys de-dotted) / ``tags``               |
| ``source_path``                 | ``qframe.source_path``                               |
| ``metric``                      | ``qframe.metric``                                    |
| ``fields``                      | merged at the top: objects merge, a captured value   |
|                                 | replaces one set above (a grok ``message`` capture   |
|                                 | is the new ``message``; ``event.original`` keeps the |
|                                 | line); a value that would replace an object, or an   |
|                                 | object a value, goes under ``qframe.fields``         |
"""

from __future__ import annotations

from typing import Any

from .message import Message, fields_of, format_time

__all__ = ["ECS_VERSION", "EVENT_KINDS", "LEVEL_NAMES", "document"]

ECS_VERSION = "8.11.0"
#: syslog severity → ECS ``log.level`` (the names of RFC 5424's severities)
LEVEL_NAMES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
#: qframe's ``kind`` → ECS ``event.kind``
EVENT_KINDS = {"log": "event", "event": "event", "metric": "metric"}
_CONTAINER_ECS = frozenset(("id", "name", "image", "image_id", "labels"))


def _dedot(d: dict[str, Any], char: str) -> dict[str, Any]:
    return {k.replace(".", char): v for k, v in d.items()}


def _merge(doc: dict[str, Any], fields: dict[str, Any], conflicts: dict[str, Any]) -> None:
    for k, v in fields.items():
        old = doc.get(k)
        if old is None:
            doc[k] = v
        elif type(old) is dict:
            if type(v) is dict:
                sub: dict[str, Any] = {}
                _merge(old, v, sub)
                if sub:
                    conflicts[k] = sub
            else:
                conflicts[k] = v
        elif type(v) is dict:
            conflicts[k] = v
        else:
            doc[k] = v


def document(m: Message, *, dedot: bool = True, dedot_char: str = "_") -> dict[str, Any]:
    """The ECS document of a message (see the module's table)."""
    doc: dict[str, Any] = {"@timestamp": format_time(m.time)}
    if m.message:
        doc["message"] = m.message
    event: dict[str, Any] = {"kind": EVENT_KINDS.get(m.kind, "event")}
    if m.message:
        event["original"] = m.message
    doc["event"] = event
    doc["ecs"] = {"version": ECS_VERSION}
    level = m.level
    if isinstance(level, int) and 0 <= level < len(LEVEL_NAMES):
        doc["log"] = {"level": LEVEL_NAMES[level], "syslog": {"severity": {"code": level}}}
    if m.host:
        doc["host"] = {"name": m.host}
    qf: dict[str, Any] = {}
    c = m.container
    if c is not None:
        cd = c.to_dict()
        container: dict[str, Any] = {}
        if cd.get("id"):
            container["id"] = cd["id"]
        if cd.get("name"):
            container["name"] = cd["name"]
        image: dict[str, Any] = {}
        if cd.get("image"):
            image["name"] = cd["image"]
        if cd.get("image_id"):
            image["hash"] = {"all": [cd["image_id"]]}
        if image:
            container["image"] = image
        if cd.get("labels"):
            container["labels"] = _dedot(cd["labels"], dedot_char) if dedot else cd["labels"]
        doc["container"] = container
        rest = {k: v for k, v in cd.items() if k not in _CONTAINER_ECS}
        if rest:
            qf["container"] = rest
    lb = m._labels
    if lb:
        doc["labels"] = _dedot(lb, dedot_char) if dedot else dict(lb)
    if m._tags:
        doc["tags"] = list(m._tags)
    if m.source_path:
        qf["source_path"] = list(m.source_path)
    if m.metric is not None:
        qf["metric"] = m.metric.to_dict()
    f = fields_of(m)
    if f:
        conflicts: dict[str, Any] = {}
        _merge(doc, f, conflicts)
        if conflicts:
            qf["fields"] = conflicts
    if qf:
        mine = doc.get("qframe")
        if type(mine) is dict:  # a field named qframe: its keys beside ours
            qf = {**mine, **qf}
        elif mine is not None:
            qf.setdefault("fields", {})["qframe"] = mine
        doc["qframe"] = qf
    return doc
