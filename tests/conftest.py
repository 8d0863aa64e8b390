from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from qframe.logs import setup_logging
from qframe.telemetry import PluginMetrics

if os.environ.get("QFRAME_MUTATION"):
    # `make mutation`: a mutant is killed by the first failing example; shrinking it (which
    # can take thousands of runs) tells nothing more, and no example database is kept
    from hypothesis import Phase, settings

    settings.register_profile(
        "mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None
    )
    settings.load_profile("mutation")


@pytest.fixture(autouse=True, scope="session")
def _qframe_logging() -> None:
    setup_logging("debug")


@pytest.fixture(autouse=True)
def _declared_metrics_only() -> Iterator[None]:
    """A test fails when a plugin run in it sets a counter or gauge it did not declare
    (``exported_metrics``, see qframe.telemetry.MetricSpec)."""
    PluginMetrics.undeclared = seen = []
    try:
        yield
    finally:
        PluginMetrics.undeclared = None
    assert not seen, f"metrics set but not declared in exported_metrics: {sorted(set(seen))}"


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
