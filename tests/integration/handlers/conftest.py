"""Fixtures for the handler integration tests: a real osmem-server and a real influxd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.influxdb import Influxd
from tests.services.osmem import Osmem


@pytest.fixture
def osmem() -> Iterator[Osmem]:
    """A fresh, empty OpenSearch-compatible server for one test."""
    server = Osmem.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def influxdb() -> Iterator[Influxd]:
    """One influxd for the module (tests use their own databases); started again if stopped."""
    server = Influxd.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def influx(influxdb: Influxd) -> Influxd:
    """The module's influxd, running (a previous test may have stopped it)."""
    influxdb.start_again()
    return influxdb
