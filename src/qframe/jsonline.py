"""``format: json`` of the collectors (tcp, file, docker-logs): one implementation.

A line that is a JSON object becomes the message: its ``message`` key the text (a
non-string value as its JSON text; absent: empty), every other key a field, the
collector's own fields (``remote_ip``, ``path``/``offset``, ``stream``) set on top. Any
other line — not JSON, not an object, nested deeper than :data:`~qframe.jsonsafe.MAX_DEPTH`
— is kept as text and tagged ``_jsonparsefailure`` (the collector counts it in
``qframe_invalid_json_total``).
"""

from __future__ import annotations

from typing import Any

import orjson

from .jsonsafe import loads_bounded
from .message import Message, fields_of

__all__ = ["FAILURE_TAG", "decode_messages", "decode_object", "message_text"]

FAILURE_TAG = "_jsonparsefailure"


def decode_object(raw: bytes | str) -> dict[str, Any] | None:
    """The JSON object of a line, or None (not JSON, not an object, too deep)."""
    head = raw[:1]
    if head not in (b"{", "{"):
        head = raw.lstrip()[:1]
        if head not in (b"{", "{"):
            return None
    try:
        obj = loads_bounded(raw)
    except ValueError:  # not JSON, or nested past MAX_DEPTH
        return None
    return obj if type(obj) is dict else None


def message_text(obj: dict[str, Any]) -> str:
    """Takes the ``message`` key out of ``obj``: the text of the message."""
    text = obj.pop("message", "")
    if type(text) is not str:
        text = orjson.dumps(text).decode()
    return text  # type: ignore[no-any-return]


def decode_messages(batch: list[Message]) -> int:
    """Decodes each message's text in place (a collector's read); returns how many failed."""
    bad = 0
    for m in batch:
        obj = decode_object(m.message)
        if obj is None:
            if m.message.strip():
                m.add_tag(FAILURE_TAG)
                bad += 1
            continue
        m.message = message_text(obj)
        own = fields_of(m)
        if own:
            obj.update(own)  # the collector's own fields win
        m._fields = obj
    return bad
