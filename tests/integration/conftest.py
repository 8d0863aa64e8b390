"""Shared fixtures for integration tests (real services started by tests/services).

Every test under tests/integration is marked ``integration`` here: ``-m integration``
selects them, ``-m "not integration"`` (and ``make test-unit``) leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.pki import make_pki
from tests.services.podman import PodmanService

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def podman() -> Iterator[PodmanService]:
    """An isolated Podman Docker-API service, shared by the whole test session.

    - ``podman.docker_host``: ``unix:///tmp/qframe-podman-…/docker.sock`` (give it to the
      plugin as ``docker-host``, or set ``DOCKER_HOST``).
    - ``podman.run(name, *cmd, labels={…}, network="none"|"bridge")`` → full container id
      (image ``localhost/busybox:latest``; ``cmd`` defaults to ``sleep 3600``);
      ``podman.unique("web")`` gives a fresh name.
    - ``podman.stop(name)`` (``-t 0``), ``podman.start_container(name)``, ``podman.rm(*names)``
      (``-f``), ``podman.rm_all()``, ``podman.inspect(name)``, ``podman.ids()``,
      ``podman.podman(*cli_args)``.
    - ``podman.stop_service()`` / ``podman.start_service()``: the API goes away and comes back
      (containers keep running); ``podman.api("GET", "/containers/json")``.

    The service is shared: use unique names and remove your containers (``podman.rm``)
    at the end of your test; do not rely on being the only container.  When podman is
    missing or the service does not start, the test is skipped (failed in CI).
    """
    svc = PodmanService.launch()
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA with server (127.0.0.1) and client certificates: see tests.services.pki."""
    return make_pki(tmp_path_factory.mktemp("pki"))
