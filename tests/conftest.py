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

    def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
        """`make mutation`: property tests run a quarter of their examples (at least 50).
        A mutant they catch fails within the first few nearly always, and a mutant that
        survives runs every test that reaches it: at full count, survivors of the GELF and
        framer modules cost 10 s each. (The test's own ``@settings`` wins over a profile,
        hence the settings set on the test itself; once per test, also in forked workers.)"""
        for item in items:
            fn = getattr(item, "obj", None)
            own = getattr(fn, "_hypothesis_internal_use_settings", None)
            if own is None or getattr(fn, "_qframe_mutation_examples", False):
                continue
            fn._hypothesis_internal_use_settings = settings(
                own, max_examples=max(50, own.max_examples // 4)
            )
            fn._qframe_mutation_examples = True


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
