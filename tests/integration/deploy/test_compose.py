"""deploy/compose.yml (issue #16) with podman-compose: qframe with its socket and volume."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.request
from typing import Any

import pytest
import yaml

from qframe.testing import wait_until
from tests.services import ephemeral_range, publish_port, unavailable
from tests.services.podman import PodmanService

from .conftest import ROOT, readme_command

COMPOSE = ROOT / "deploy" / "compose.yml"


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def compose(podman: PodmanService, project: str, env: dict[str, str], *args: str) -> str:
    r = subprocess.run(
        [
            "podman-compose",
            "--podman-args",
            " ".join(podman._cmd()[1:]),
            "-p",
            project,
            "-f",
            str(COMPOSE),
            *args,
        ],
        env={**podman.env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_the_compose_file_sets_what_podman_compose_cannot_check() -> None:
    # README's command is the one this file tests (podman-compose for docker compose)
    cmd = readme_command("tests/integration/deploy/test_compose.py", "DOCKER_GID=")
    assert cmd[-4:] == ["-f", "deploy/compose.yml", "up", "-d"]
    svc = yaml.safe_load(COMPOSE.read_text())["services"]["qframe"]
    assert svc["stop_grace_period"] == "40s"  # above shutdown-timeout (30 s)
    assert "qframe-data:/var/lib/qframe" in svc["volumes"]


def test_the_backends_file_adds_influxdb_and_opensearch_to_qframe() -> None:
    """compose.backends.yml (their images cannot be pulled here: it is not run, only read)."""
    # README's second command: the backends next to qframe
    cmd = readme_command("tests/integration/deploy/test_compose.py", "docker compose")
    assert cmd[2:] == ["-f", "deploy/compose.yml", "-f", "deploy/compose.backends.yml", "up", "-d"]
    base = yaml.safe_load(COMPOSE.read_text())
    extra = yaml.safe_load((ROOT / "deploy" / "compose.backends.yml").read_text())
    assert set(extra["services"]) == {"qframe", "influxdb", "opensearch"}
    assert extra["services"]["qframe"] == {"depends_on": ["influxdb", "opensearch"]}
    for name, svc in extra["services"].items():
        if name != "qframe":
            assert svc["image"] and svc["restart"] == "unless-stopped"
            for v in svc["volumes"]:  # each named volume is declared
                assert v.split(":")[0] in extra["volumes"], v
    assert extra["services"]["influxdb"]["environment"]["INFLUXDB_DB"] == "qframe"
    for v in base["services"]["qframe"]["volumes"]:
        if not v.startswith(("$", "/", ".")):
            assert v.split(":")[0] in base["volumes"], v


@pytest.mark.timeout(600)  # a clean machine: debootstrap + build in the fixture
async def test_podman_compose_up_runs_qframe_on_the_socket_and_down_drains_it(
    podman: PodmanService, qframe_image: str
) -> None:
    if shutil.which("podman-compose") is None:
        unavailable("podman-compose is not installed (make services installs it)")
    mode = os.stat(podman.socket_path).st_mode
    if not mode & stat.S_IWGRP:
        os.chmod(podman.socket_path, mode | stat.S_IRGRP | stat.S_IWGRP)
    # below the ephemeral range: its DNAT rule outlives the container at the stop, and a
    # loopback connect of a later test to its port would go to the gone container
    port = publish_port()
    assert port < ephemeral_range()[0]
    project = podman.unique("qcompose")
    env = {
        "DOCKER_SOCKET": podman.socket_path,
        "DOCKER_GID": str(os.stat(podman.socket_path).st_gid),
        "QFRAME_PORT": str(port),
        "QFRAME_IMAGE": qframe_image,
    }
    name = f"{project}_qframe_1"
    try:
        compose(podman, project, env, "up", "-d")

        def found_itself() -> bool:
            try:
                url = f"http://127.0.0.1:{port}/inventory/containers?name={name}"
                return bool(get_json(url)["name"] == name)
            except OSError:
                return False

        await wait_until(found_itself, timeout=60, what="qframe (compose) knows its container")
        health = get_json(f"http://127.0.0.1:{port}/health")
        assert health["status"] == "ok"
        compose(podman, project, env, "stop", "-t", "40")
        state = podman.inspect(name)["State"]
        assert state["ExitCode"] == 0
    finally:
        compose(podman, project, env, "down", "-v", "-t", "0")
