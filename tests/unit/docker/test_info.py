"""Container metadata from inspect answers and event attributes; API version negotiation."""

from __future__ import annotations

import pytest

from qframe.docker.client import DockerClient, negotiate_version
from qframe.docker.info import container_info, info_from_attributes

INSPECT = {
    "Id": "8d82420fdaa3d8e95b4b810ab11808a6fe5760b8cc9ae110620a5c9e0d8b708c",
    "Created": "2026-11-26T05:33:06.025Z",
    "Path": "sh",
    "Args": ["-c", "while true; do echo hi; sleep 1; done"],
    "State": {"Running": True},
    "Image": "sha256:136d6f88fb8a",
    "Name": "/web.2.k3j4h5",
    "Config": {
        "Image": "localhost/busybox:latest",
        "Tty": False,
        "Labels": {
            "com.docker.swarm.service.name": "web",
            "com.docker.swarm.task.name": "web.2.k3j4h5",
            "team": "ops",
        },
    },
    "NetworkSettings": {
        "Networks": {
            "podman": {"IPAddress": "10.88.0.2"},
            "none": {"IPAddress": ""},
        }
    },
}


def test_an_inspect_answer_becomes_container_info_with_swarm_slots() -> None:
    info = container_info(INSPECT)
    assert info.id == INSPECT["Id"]
    assert info.name == "web.2.k3j4h5"
    assert info.image == "localhost/busybox:latest"
    assert info.image_id == "sha256:136d6f88fb8a"
    assert info.ips == {"podman": "10.88.0.2"}
    assert info.command == "sh -c while true; do echo hi; sleep 1; done"
    assert info.created == "2026-11-26T05:33:06.025Z"
    assert info.labels["team"] == "ops"
    assert (info.service_name, info.service_slot, info.task_slot) == ("web", "2", "k3j4h5")


def test_a_list_entry_becomes_container_info_too() -> None:
    entry = {
        "Id": "abc",
        "Names": ["/web1"],
        "Image": "localhost/busybox:latest",
        "ImageID": "sha256:1",
        "Command": "sleep 3600",
        "Created": 1795671186,
        "Labels": {"a": "b"},
        "NetworkSettings": {"Networks": {"podman": {"IPAddress": "10.88.0.3"}}},
    }
    info = container_info(entry)
    assert (info.name, info.image, info.image_id, info.command) == (
        "web1",
        "localhost/busybox:latest",
        "sha256:1",
        "sleep 3600",
    )
    assert info.created.startswith("2026-11-26T")
    assert info.ips == {"podman": "10.88.0.3"} and info.labels == {"a": "b"}


def test_a_gone_container_is_described_by_its_event_attributes() -> None:
    attrs = {"name": "web1", "image": "busybox", "exitCode": "0", "team": "ops"}
    info = info_from_attributes("abc", attrs)
    assert (info.id, info.name, info.image, info.labels) == (
        "abc",
        "web1",
        "busybox",
        {"team": "ops"},
    )


def test_the_api_version_is_the_engines_up_to_the_newest_this_client_speaks() -> None:
    assert negotiate_version("1.41") == "1.41"
    assert negotiate_version("1.51") == "1.44"
    assert negotiate_version("1.40", "1.12") == "1.40"


def test_the_docker_host_defaults_to_the_environment_then_the_standard_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert DockerClient().host == "tcp://10.0.0.1:2375"
    assert DockerClient("unix:///x.sock").host == "unix:///x.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert DockerClient().host == "unix:///var/run/docker.sock"


async def test_tcp_hosts_speak_https_when_tls_is_asked_for_and_http_otherwise() -> None:
    plain = DockerClient("tcp://127.0.0.1:2375")
    tls = DockerClient("tcp://127.0.0.1:2376", tls_verify=True)
    try:
        plain._docker = plain._make()
        tls._docker = tls._make()
        assert plain._url("/version", False) == "http://127.0.0.1:2375/version"
        assert tls._url("/version", False) == "https://127.0.0.1:2376/version"
        assert tls._url("/events", True) == "https://127.0.0.1:2376/v1.24/events"
    finally:
        await plain.close()
        await tls.close()
