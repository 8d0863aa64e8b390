"""Fixtures of the broker tests: a real NATS JetStream node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.nats import NatsServer


@pytest.fixture(scope="module")
def nats_node() -> Iterator[NatsServer]:
    """One JetStream node for the module (tests use their own streams); started again if stopped."""
    server = NatsServer.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def nats_url(nats_node: NatsServer) -> str:
    nats_node.start_again()
    return nats_node.url
