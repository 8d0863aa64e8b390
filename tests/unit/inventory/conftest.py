from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from qframe.testing import Harness


def pipeline(**inventory: Any) -> dict[str, Any]:
    """docker-events (synthetic) and tcp (lines) → inventory → out."""
    return {
        "tick": "1h",
        "collector": {
            "docker-events": {"kind": "list", "linger": True},
            "tcp": {"kind": "list", "linger": True, "ack": True},
        },
        "filter": {"inventory": {"inputs": ["docker-events", "tcp"], **inventory}},
        "handler": {"out": {"kind": "capture", "inputs": ["inventory"]}},
    }


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with Harness(pipeline()) as h:
        yield h
