"""The seed's run (issue #16): qframe's image under Podman with the engine's socket mounted.

The image (``make image``) runs the embedded default pipeline as PID 1: it finds its own
container among the running ones, collects and enriches a container started after it, drains
on ``podman stop`` (exit 0, checkpoints in the data-dir volume), and a new qframe container
on the same volume resumes the logs without losing a line.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qframe.config import PipelineSpec
from qframe.testing import wait_until
from tests.services.podman import PodmanError, PodmanService

from .conftest import ROOT, build_image, readme_block, readme_command

COUNTER = "i=0; while true; do echo seq-$i; i=$((i+1)); sleep 0.1; done"
PY = "/opt/qframe/bin/python"


def exec_json(podman: PodmanService, name: str, url: str) -> Any:
    out = podman.podman(
        "exec",
        name,
        PY,
        "-c",
        f"import urllib.request,sys; sys.stdout.write(urllib.request.urlopen({url!r}).read().decode())",
    )
    return json.loads(out)


def stderr_log(podman: PodmanService, name: str) -> str:
    """qframe's own log (its stderr) as the engine keeps it."""
    r = subprocess.run(
        [*podman._cmd(), "logs", name], env=podman.env, capture_output=True, text=True, timeout=30
    )
    return r.stderr


def lines(podman: PodmanService, name: str) -> list[dict[str, Any]]:
    """The JSON lines qframe's log handler wrote to its stdout (the container's log)."""
    out = podman.podman("logs", name)
    got = []
    for ln in out.splitlines():
        if ln.startswith("{"):
            try:
                got.append(json.loads(ln))
            except ValueError:
                pass
    return got


def seqs(msgs: list[dict[str, Any]], name: str) -> set[int]:
    return {
        int(m["message"][4:])
        for m in msgs
        if m.get("kind") == "log"
        and (m.get("container") or {}).get("name") == name
        and str(m.get("message", "")).startswith("seq-")
    }


def run_args(
    podman: PodmanService,
    name: str,
    volume: str,
    image: str,
    cmd: list[str] | None = None,
    swap: dict[str, str] | None = None,
) -> list[str]:
    """README's ``docker run`` command (``cmd``: another of its blocks), for this podman: its
    socket, a fresh name and volume, no network (the test reads the API inside the container)
    and JSON output."""
    cmd = cmd or readme_command("tests/integration/deploy/test_image.py", "docker run")
    gid = str(os.stat(podman.socket_path).st_gid)
    swap = {
        "$(stat -c %g /var/run/docker.sock)": gid,
        "/var/run/docker.sock:/var/run/docker.sock": f"{podman.socket_path}:/var/run/docker.sock",
        "qframe-data:/var/lib/qframe": f"{volume}:/var/lib/qframe",
        "qframe": name,
        "localhost/qframe:latest": image,
        **(swap or {}),
    }
    args = [swap.get(a, a) for a in cmd[1:]]
    p = args.index("-p")
    del args[p : p + 2]  # no network here: nothing to publish
    i = args.index(image)  # the image, then its command
    return [*args[:i], "--network", "none", "-e", "QFRAME_LOG_FORMAT=json", *args[i:]]


@pytest.mark.timeout(600)  # a clean machine: debootstrap + build in the fixture
async def test_the_image_finds_itself_collects_a_new_container_and_resumes_after_a_stop(
    podman: PodmanService, qframe_image: str
) -> None:
    mode = os.stat(podman.socket_path).st_mode
    if not mode & stat.S_IWGRP:  # the socket is for its owner only: the group cannot help
        os.chmod(podman.socket_path, mode | stat.S_IRGRP | stat.S_IWGRP)
    volume = podman.unique("qframe-data")
    q1, q2, web = podman.unique("qframe"), podman.unique("qframe"), podman.unique("web")
    podman.podman("volume", "create", volume)
    try:
        qid = podman.podman(*run_args(podman, q1, volume, qframe_image))

        def itself() -> bool:
            try:
                inv = exec_json(podman, q1, "http://127.0.0.1:8123/inventory/containers")
            except (PodmanError, ValueError):
                return False
            return any(
                c["id"] == qid and c["name"] == q1 and c["state"] == "running"
                for c in inv["containers"]
            )

        await wait_until(itself, timeout=60, what="qframe's inventory lists its own container")
        # qframe itself is PID 1 (no shell or init in between): the engine's signals reach it
        pid1 = podman.podman("exec", q1, "cat", "/proc/1/cmdline").split("\0")
        assert pid1[1:3] == ["/opt/qframe/bin/qframe", "run"], pid1
        # PID 1 takes SIGHUP: a reload, the container still running
        podman.podman("kill", "--signal", "HUP", q1)
        await wait_until(
            lambda: "reloaded:" in stderr_log(podman, q1), timeout=30, what="the reload's log"
        )
        assert podman.inspect(q1)["State"]["Running"]
        # the HEALTHCHECK (docker format) runs /health inside the container
        podman.podman("healthcheck", "run", q1)
        inspect = podman.inspect(q1)
        assert inspect["Config"]["User"] == "10001:10001"
        # README's --stop-timeout is above qframe's shutdown-timeout (the engine's 10 s is not)
        assert inspect["Config"]["StopTimeout"] > PipelineSpec.shutdown_timeout > 10

        podman.run(web, "sh", "-c", COUNTER)
        await wait_until(
            lambda: len(seqs(lines(podman, q1), web)) >= 10,
            timeout=60,
            what="the web container's lines in qframe's output",
        )
        first = lines(podman, q1)
        m = next(
            m
            for m in first
            if (m.get("container") or {}).get("name") == web and m.get("kind") == "log"
        )
        assert m["container"]["image"] == "localhost/busybox:latest"
        assert m["fields"]["stream"] == "stdout"
        # its own output is not collected again (the image's skip-log label)
        own = [m for m in first if m.get("kind") == "log" and m["container"]["name"] == q1]
        assert not own

        podman.podman("stop", q1)  # SIGTERM: drain, checkpoints, exit 0
        state = podman.inspect(q1)["State"]
        assert state["ExitCode"] == 0, podman.podman("logs", "--tail", "20", q1)
        before = seqs(lines(podman, q1), web)
        mount = Path(json.loads(podman.podman("volume", "inspect", volume))[0]["Mountpoint"])
        checkpoints = [p for p in mount.rglob("*") if p.is_file()]
        assert checkpoints, "no checkpoint in the data-dir volume"
        n_engine = len(podman.podman("logs", web).split())
        await wait_until(  # lines written while no qframe runs
            lambda: len(podman.podman("logs", web).split()) >= n_engine + 10,
            timeout=30,
            what="the web container writing on",
        )

        podman.podman(*run_args(podman, q2, volume, qframe_image))
        target = max(before) + 30
        await wait_until(
            lambda: max(seqs(lines(podman, q2), web), default=-1) >= target,
            timeout=60,
            what="the new qframe container catching up",
        )
        after = seqs(lines(podman, q2), web)
        got = before | after
        assert set(range(max(got) + 1)) <= got, "lines lost across the restart"
        assert min(after) > 0, "the new container read the log from its start (no checkpoint)"
        podman.podman("stop", q2)
        assert podman.inspect(q2)["State"]["ExitCode"] == 0
    finally:
        podman.rm(q1, q2, web)
        podman.podman("volume", "rm", "-f", volume)


@pytest.mark.timeout(600)  # a clean machine: debootstrap + build in the fixture
def test_the_image_is_small_and_declares_its_contract(
    podman: PodmanService, qframe_image: str
) -> None:
    info = json.loads(podman.podman("image", "inspect", qframe_image))[0]
    cfg = info["Config"]
    assert cfg["Entrypoint"] == ["/opt/qframe/bin/qframe"]
    assert cfg["Cmd"] == ["run"]
    assert "/var/lib/qframe" in cfg["Volumes"]
    assert cfg["StopSignal"] in ("SIGTERM", "15")
    health = cfg.get("Healthcheck") or info["Healthcheck"]  # kept by --format docker
    assert health["Test"][0] == "CMD" and "/health" in health["Test"][-1]
    assert cfg["Labels"]["org.qnib.qframe.skip-log"] == "true"
    assert info["Size"] < 150e6, info["Size"]  # the aim of #16 (about 104 MB: README)
    out = podman.podman("run", "--rm", "--network", "none", qframe_image, "version")
    version = (ROOT / "src" / "qframe" / "__init__.py").read_text().split('__version__ = "')[1]
    assert out.startswith(f"qframe {version.split(chr(34))[0]}")
    py = podman.podman(
        "run", "--rm", "--network", "none", "--entrypoint", PY, qframe_image, "-m", "qframe", "version"
    )  # fmt: skip
    assert py == out


@pytest.mark.timeout(600)  # a clean machine: debootstrap + build in the fixture
async def test_a_mounted_config_with_variables_runs_and_keeps_the_health_check(
    podman: PodmanService, qframe_image: str, tmp_path: Path
) -> None:
    marker = "tests/integration/deploy/test_image.py::config"
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(readme_block(marker))
    cfg.chmod(0o644)
    cmd = readme_command(marker, "docker run", nth=1)
    assert cmd[-3:] == ["run", "-c", "/etc/qframe/qframe.yml"]
    assert "SITE=berlin" in cmd
    mode = os.stat(podman.socket_path).st_mode
    if not mode & stat.S_IWGRP:
        os.chmod(podman.socket_path, mode | stat.S_IRGRP | stat.S_IWGRP)
    volume = podman.unique("qframe-data")
    q, web = podman.unique("qframe"), podman.unique("web")
    swap = {"$PWD/qframe.yml:/etc/qframe/qframe.yml:ro": f"{cfg}:/etc/qframe/qframe.yml:ro"}
    podman.podman("volume", "create", volume)
    try:
        podman.podman(*run_args(podman, q, volume, qframe_image, cmd, swap))
        podman.run(web, "sh", "-c", COUNTER)

        def sited() -> list[dict[str, Any]]:
            return [
                m
                for m in lines(podman, q)
                if (m.get("container") or {}).get("name") == web
                and str(m.get("message", "")).startswith("seq-")
            ]

        await wait_until(lambda: sited(), timeout=60, what="the web container's lines")
        # ${SITE} from -e, expanded in the mounted file; the embedded pipeline is not running
        assert {m["fields"]["site"] for m in sited()} == {"berlin"}
        assert "config /etc/qframe/qframe.yml" in stderr_log(podman, q)
        # http: ${QFRAME_HTTP} (the image's 0.0.0.0:8123): the health check answers
        podman.podman("healthcheck", "run", q)
        # data-dir: ${QFRAME_DATA_DIR}, the volume
        mount = Path(json.loads(podman.podman("volume", "inspect", volume))[0]["Mountpoint"])
        podman.podman("stop", q)
        assert podman.inspect(q)["State"]["ExitCode"] == 0
        assert [p for p in mount.rglob("*") if p.is_file()], "nothing in the data-dir volume"
    finally:
        podman.rm(q, web)
        podman.podman("volume", "rm", "-f", volume)


@pytest.mark.timeout(600)
def test_the_same_sources_give_the_key_of_the_image_in_use(
    podman: PodmanService, qframe_image: str, tmp_path: Path
) -> None:
    """The image is saved and found again by the content of the wheels: they are the same
    bytes when made again (fixed file dates), so ``make image`` loads instead of building."""
    r = build_image(podman, tmp_path / "context", "--key")
    assert r.returncode == 0, r.stderr[-2000:]
    key = r.stdout.strip()
    ids = {podman.podman("image", "inspect", "--format", "{{.Id}}", i) for i in (
        qframe_image, f"localhost/qframe-cache:{key}")}  # fmt: skip
    assert len(ids) == 1, (key, ids)
