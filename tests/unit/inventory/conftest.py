from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
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


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def daemon_log() -> Iterator[Lines]:
    """The daemon's log records (the ``qframe`` logger does not propagate to caplog)."""
    h = Lines()
    logger = logging.getLogger("qframe")
    logger.addHandler(h)
    try:
        yield h
    finally:
        logger.removeHandler(h)
