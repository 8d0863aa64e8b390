"""The podman service helper itself: the fixture every docker test stands on."""

from __future__ import annotations

from tests.services.podman import PodmanService


def test_the_podman_service_runs_lists_and_removes_containers(podman: PodmanService) -> None:
    name = podman.unique("helper")
    cid = podman.run(name, labels={"a.b": "c"})
    try:
        listed = {c["Id"]: c for c in podman.api("GET", "/containers/json")}
        assert cid in listed
        assert listed[cid]["Labels"] == {"a.b": "c"}
    finally:
        podman.rm(name)
    assert cid not in {c["Id"] for c in podman.api("GET", "/containers/json?all=1")}


def test_the_api_service_can_go_away_and_come_back_while_containers_run(
    podman: PodmanService,
) -> None:
    name = podman.unique("survivor")
    cid = podman.run(name)
    try:
        podman.stop_service()
        assert not podman.service_running
        assert cid in podman.ids()
        podman.start_service()
        assert podman.api("GET", "/version")["ApiVersion"]
        assert cid in {c["Id"] for c in podman.api("GET", "/containers/json")}
    finally:
        podman.rm(name)
