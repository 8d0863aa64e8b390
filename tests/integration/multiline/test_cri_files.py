"""format: cri on the files real Podman containers write with the k8s-file driver, a pod
of ``podman kube play``, and a rotation by rename and compression (the kubelet's)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

from qframe.testing import Harness, wait_until
from tests.services.podman import IMAGE, PodmanService

POD_YML = """\
apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: {image}
    command: ["/bin/sh", "-c", "echo from the pod; echo pod err >&2; sleep 600"]
"""


def pipeline(tmp: Path, glob: str | list[str], docker_host: str = "") -> dict[str, object]:
    """pods (file format: cri) → out; with ``docker_host``: → inventory (fed by
    docker-events) → out."""
    cfg: dict[str, Any] = {
        "tick": "50ms",
        "data-dir": str(tmp / "data"),
        "collector": {
            "pods": {
                "kind": "file",
                "path": glob,
                "format": "cri",
                "start-position": "beginning",
                "poll-interval": "20ms",
                "scan-interval": "100ms",
                "exclude": ["*.gz"],
            }
        },
        "handler": {"out": {"kind": "capture", "inputs": ["pods"]}},
    }
    if docker_host:
        cfg["collector"]["docker-events"] = {"docker-host": docker_host}
        cfg["filter"] = {"inventory": {"inputs": ["docker-events", "pods"], "wait": "60s"}}
        cfg["handler"]["out"]["inputs"] = ["inventory"]
    return cfg


async def test_k8s_file_containers_and_a_kube_play_pod_are_read_with_pod_metadata(
    podman: PodmanService, tmp_path: Path
) -> None:
    """The files are read with their pod metadata from the path; the inventory (docker-events
    of the same engine) enriches the pod's lines, whose kubelet-style link carries the
    container id, with the engine's container, the pod labels kept; lines without an id
    (the path has none) pass it as they are."""
    pods = tmp_path / "pods"
    uid = "7f3c2a10-0000-4000-8000-000000000001"
    ctr_dir = pods / f"shop_web-1_{uid}" / "app"
    ctr_dir.mkdir(parents=True)
    name, pod = podman.unique("cri"), podman.unique("pod")
    script = (
        "head -c 102400 /dev/zero | tr '\\0' a; echo; "
        "i=0; while [ $i -lt 50 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; sleep 600"
    )
    # the container's file placed in the Kubernetes layout by the driver itself
    podman.run(
        name,
        "sh",
        "-c",
        script,
        args=("--log-driver", "k8s-file", "--log-opt", f"path={ctr_dir / '0.log'}"),
    )
    yml = tmp_path / "pod.yml"
    yml.write_text(POD_YML.format(pod=pod, image=IMAGE))
    podman.podman("kube", "play", "--log-driver", "k8s-file", str(yml))
    try:
        cid = podman.podman("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.ID}} {{.Names}}")
        app_id = next(ln.split()[0] for ln in cid.splitlines() if ln.split()[1] == f"{pod}-app")
        log = podman.podman("inspect", app_id, "--format", "{{.HostConfig.LogConfig.Path}}")
        full = podman.podman("inspect", app_id, "--format", "{{.Id}}")
        image = podman.podman("inspect", app_id, "--format", "{{.ImageName}}")
        # the pod's file is under the storage root: linked into the layout, and a kubelet
        # style link …/containers/<pod>_<namespace>_<container>-<id>.log to that
        pod_dir = pods / f"default_{pod}_{uid[:-1]}2" / "app"
        pod_dir.mkdir(parents=True)
        os.symlink(log, pod_dir / "0.log")
        links = tmp_path / "containers"
        links.mkdir()
        os.symlink(pod_dir / "0.log", links / f"{pod}_default_app-{full}.log")
        # the layout's own files, and the pod's through the kubelet-style link (which
        # carries its id); one file is read once, whatever the number of its names
        globs = [str(pods / "shop_*" / "*" / "*.log"), str(links / "*.log")]
        async with Harness(pipeline(tmp_path, globs, podman.docker_host)) as h:
            captured = h.captured("out")

            def of(ctr_name: str, pod_name: str) -> list[str]:
                return [
                    m.message
                    for m in captured
                    if m.kind == "log"
                    and m.container is not None
                    and m.container.labels.get("io.kubernetes.pod.name") == pod_name
                ]

            await wait_until(
                lambda: len(of("app", "web-1")) >= 101 and len(of("app", pod)) >= 2,
                timeout=30,
                what="the container's and the pod's lines",
            )
    finally:
        podman.rm(name)
        podman.podman("pod", "rm", "-f", pod)
    out = [m for m in captured if m.kind == "log"]
    web = [
        m for m in out if m.container and m.container.labels["io.kubernetes.pod.name"] == "web-1"
    ]
    # stdout and stderr reach the file through two pipes conmon reads independently: "err 0"
    # may be written before the long stdout line's last piece, so each stream is checked alone
    stdout = [m for m in web if m.fields["stream"] == "stdout"]
    assert stdout[0].message == "a" * 102400
    assert [m.message for m in web if m.fields["stream"] == "stdout"][1:] == [
        f"out {i}" for i in range(50)
    ]
    assert [m.message for m in web if m.fields["stream"] == "stderr"] == [
        f"err {i}" for i in range(50)
    ]
    assert all(m.tags == [] and abs(m.time - web[0].time) < 60 for m in web)
    c = web[0].container
    assert c is not None and c.name == "app"
    assert c.labels["io.kubernetes.pod.namespace"] == "shop"
    assert c.labels["io.kubernetes.pod.uid"] == uid
    assert c.labels["io.kubernetes.container.restartCount"] == "0"
    from_pod = [
        m for m in out if m.container and m.container.labels.get("io.kubernetes.pod.name") == pod
    ]
    assert sorted(m.message for m in from_pod) == ["from the pod", "pod err"]
    assert {m.container.id for m in from_pod if m.container} == {full}
    assert {m.container.labels["io.kubernetes.pod.namespace"] for m in from_pod if m.container} == {
        "default"
    }
    for m in from_pod:  # enriched by the inventory: the engine's container, pod labels kept
        assert m.container is not None and m.container.image == image.strip()
        assert m.container.name == f"{pod}-app" and "_inventory_miss" not in m.tags
        assert m.container.labels["io.kubernetes.container.name"] == "app"
        assert m.container.labels["io.kubernetes.pod.uid"] == uid[:-1] + "2"
    assert all(m.container is not None and not m.container.image for m in web)


async def test_lines_across_a_rename_and_compress_rotation_arrive_once(tmp_path: Path) -> None:
    d = tmp_path / "pods" / "ns_p_u" / "c"
    d.mkdir(parents=True)
    log = d / "0.log"

    def write(path: Path, lo: int, hi: int) -> None:
        with open(path, "ab") as f:
            for i in range(lo, hi):
                f.write(b"2026-12-05T20:23:49.000000001+00:00 stdout P part-%d-\n" % i)
                f.write(b"2026-12-05T20:23:49.000000002+00:00 stdout F line %d\n" % i)

    write(log, 0, 500)
    async with Harness(pipeline(tmp_path, str(d / "*.log*"))) as h:
        out = h.captured("out")
        await wait_until(lambda: len(out) >= 250, what="some lines")
        write(log, 500, 1000)
        rotated = d / "0.log.20261205-202349"
        os.rename(log, rotated)  # the kubelet: rename, a new file, then compress the old
        write(log, 1000, 1500)
        await wait_until(lambda: len(out) >= 1500, timeout=30, what="every line")
        with open(rotated, "rb") as src, gzip.open(f"{rotated}.gz", "wb") as dst:
            dst.write(src.read())
        rotated.unlink()
        write(log, 1500, 2000)
        await wait_until(lambda: len(out) >= 2000, timeout=30, what="every line")
    texts = [m.message for m in h.captured("out")]
    assert sorted(texts) == sorted(f"part-{i}-line {i}" for i in range(2000))
