"""Reading ``_bulk`` answers: which items landed, which to retry, which were rejected."""

from __future__ import annotations

from typing import Any

import orjson

from ...common.delivery import Item, Outcome

__all__ = ["RETRYABLE", "parse_bulk"]

#: item statuses worth retrying: the destination was busy or broken, not the document
RETRYABLE = frozenset((408, 429))


def parse_bulk(status: int, body: bytes, items: list[Item]) -> Outcome | None:
    """The outcome of a 2xx ``_bulk`` answer; None (default treatment) for other statuses.

    Per item: 2xx (and 409 on ``create``: the document is already there) → done;
    408, 429 and 5xx → retry; any other 4xx (a mapping conflict …) → dead letter.
    """
    if not 200 <= status < 300:
        return None
    # the common answer, {"took":3,"errors":false,"items":[…]}, needs no parsing
    head = body[:200]
    ok_at = head.find(b'"errors":false')
    if ok_at != -1 and ok_at < head.find(b'"items"') and body.count(b'"status":') == len(items):
        return Outcome(done=items)
    try:
        res: Any = orjson.loads(body)
        results = res["items"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return Outcome(
            retry=items, reason=f"unreadable _bulk answer: {body[:200].decode('utf-8', 'replace')}"
        )
    if not res.get("errors") and len(results) == len(items):
        return Outcome(done=items)
    out = Outcome()
    done, retry, dead = out.done, out.retry, out.dead
    for item, r in zip(items, results, strict=False):
        try:
            ((op, info),) = r.items()
            st = int(info.get("status", 500))
        except (AttributeError, ValueError, TypeError):
            retry.append(item)
            continue
        if st < 300 or (st == 409 and op == "create"):
            done.append(item)
        elif st in RETRYABLE or st >= 500:
            retry.append(item)
            if not out.reason:
                out.reason = f"item status {st}: {_brief(info.get('error'))}"
        else:
            dead.append((item, st, info.get("error")))
    if len(results) < len(items):
        retry.extend(items[len(results) :])
        out.reason = out.reason or "answer had fewer items than the request"
    return out


def _brief(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('type', '')}: {error.get('reason', '')}"[:200]
    return str(error)[:200]
