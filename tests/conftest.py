from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from qframe.logs import setup_logging


@pytest.fixture(autouse=True, scope="session")
def _qframe_logging() -> None:
    setup_logging("debug")


class Lines(logging.Handler):
    """Keeps the log records it is given."""

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
