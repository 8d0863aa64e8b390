"""An isolated Podman Docker-API service for integration tests (see ENVIRONMENT.md).

::

    svc = PodmanService.launch()          # or the session fixture ``podman`` (tests/integration)
    os.environ["DOCKER_HOST"] = svc.docker_host        # unix:///tmp/qframe-podman-…/docker.sock
    cid = svc.run("web1", "sh", "-c", "while true; do echo hi; sleep 1; done")
    svc.rm("web1")
    svc.stop_service(); svc.start_service()            # the engine's API goes away and comes back
    svc.close()                                        # rm -f every container, kill the API

Everything lives under one temp dir: its own ``containers.conf`` (runc, low ulimits,
``events_logger = "file"``), ``--root``/``--runroot``/``--tmpdir`` (so events, locks and
storage are not shared with any other podman use) and the API socket.  The only image is
``localhost/busybox:latest`` (:data:`IMAGE`), imported from the host's static
``/bin/busybox`` with a symlink for every applet.  Containers run without a network by
default (``network="bridge"`` gives them a 10.88.0.x address).  Stopping a busybox ``sh``
loop takes the 10 s SIGTERM timeout, so :meth:`stop` uses ``-t 0`` and :meth:`rm` uses ``-f``.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from . import unavailable

__all__ = ["IMAGE", "PodmanError", "PodmanService"]

IMAGE = "localhost/busybox:latest"
BUSYBOX = "/bin/busybox"

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
events_logger = "file"
"""


class PodmanError(RuntimeError):
    """A podman CLI command failed (the message holds its stderr)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class PodmanService:
    """One podman Docker-API service with its own storage; see the module docstring.

    Attributes: ``base`` (the temp dir), ``socket_path``, ``docker_host``
    (``unix://<socket_path>``), ``env`` (the environment the podman CLI runs with).
    """

    def __init__(self, base: Path, podman: str) -> None:
        self.base = base
        self.binary = podman
        self.socket_path = str(base / "docker.sock")
        self.docker_host = f"unix://{self.socket_path}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "CONTAINER"))},
            "CONTAINERS_CONF": str(base / "containers.conf"),
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    # -- life ------------------------------------------------------------------------
    @classmethod
    def launch(cls, timeout: float = 30.0) -> PodmanService:
        """Create the temp dir, import the image, start the API and wait for ``/version``.

        Calls ``tests.services.unavailable`` when podman, runc or busybox is missing or
        the service does not answer within ``timeout``.
        """
        podman = shutil.which("podman")
        if podman is None or shutil.which("runc") is None or not os.path.exists(BUSYBOX):
            unavailable("podman, runc or busybox-static is not installed (make services)")
        assert podman is not None
        base = Path(tempfile.mkdtemp(prefix="qframe-podman-"))
        svc = cls(base, podman)
        try:
            (base / "containers.conf").write_text(CONTAINERS_CONF)
            svc._import_image()
            svc.start_service(timeout)
        except (PodmanError, OSError, TimeoutError) as exc:
            svc.close()
            unavailable(f"podman Docker API did not start: {exc}")
        return svc

    def close(self) -> None:
        """Remove every container, stop the API service and delete the temp dir."""
        with contextlib.suppress(PodmanError, OSError, subprocess.TimeoutExpired):
            self.rm_all()
        self.stop_service()
        with contextlib.suppress(PodmanError, OSError, subprocess.TimeoutExpired):
            self.podman("system", "prune", "-f", timeout=30)  # removes mounts and pods
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PodmanService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _import_image(self) -> None:
        root = self.base / "image"
        (root / "bin").mkdir(parents=True)
        shutil.copy(BUSYBOX, root / "bin" / "busybox")
        applets = subprocess.run(
            [BUSYBOX, "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for a in applets:
            if a != "busybox":
                (root / "bin" / a).symlink_to("busybox")
        (root / "tmp").mkdir()
        tar = self.base / "busybox.tar"
        with tarfile.open(tar, "w") as tf:
            tf.add(root, arcname=".")
        self.podman("import", str(tar), IMAGE)

    # -- the API service -----------------------------------------------------------------
    @property
    def service_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start_service(self, timeout: float = 30.0) -> None:
        """Start ``podman system service`` on :attr:`socket_path`; wait until it answers."""
        if self.service_running:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        log = open(self.base / "service.log", "ab")
        self._proc = subprocess.Popen(
            [*self._cmd(), "system", "service", "--time=0", self.docker_host],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.api("GET", "/version")
                return
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if self._proc.poll() is not None:
                    raise PodmanError(
                        f"podman system service exited {self._proc.returncode}: "
                        f"{self.service_log()[-500:]}"
                    ) from exc
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer on {self.socket_path} in {timeout}s") from exc
                time.sleep(0.05)

    def stop_service(self) -> None:
        """Kill the API service (containers keep running, as when dockerd restarts)."""
        p, self._proc = self._proc, None
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)

    def restart_service(self) -> None:
        self.stop_service()
        self.start_service()

    def service_log(self) -> str:
        try:
            return (self.base / "service.log").read_text(errors="replace")
        except OSError:
            return ""

    def api(self, method: str, path: str, timeout: float = 5.0) -> Any:
        """One request to the Docker API (JSON answer decoded; raises on a non-2xx status)."""
        conn = _UnixHTTPConnection(self.socket_path, timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            if not 200 <= r.status < 300:
                raise PodmanError(f"{method} {path}: {r.status} {body[:200]!r}")
            return json.loads(body) if body else None
        finally:
            conn.close()

    # -- containers (through the CLI, so they work while the API is down) -----------------
    def _cmd(self) -> list[str]:
        b = self.base
        return [
            self.binary,
            "--root",
            str(b / "storage"),
            "--runroot",
            str(b / "run"),
            "--tmpdir",
            str(b / "tmp"),
        ]

    def podman(self, *args: str, timeout: float = 60.0) -> str:
        """Run a podman CLI command against this service's storage; its stdout (stripped)."""
        r = subprocess.run(
            [*self._cmd(), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if r.returncode != 0:
            raise PodmanError(f"podman {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout.strip()

    def unique(self, prefix: str = "c") -> str:
        """A container name not used before by this service (``prefix-<n>``)."""
        return f"{prefix}-{next(self._names)}"

    def run(
        self,
        name: str,
        *command: str,
        labels: dict[str, str] | None = None,
        network: str = "none",
        tty: bool = False,
        args: tuple[str, ...] = (),
    ) -> str:
        """``podman run -d --name NAME`` the busybox image; returns the full container id.

        ``command`` defaults to ``sleep 3600``; ``args`` are extra ``podman run`` flags.
        """
        cmd = ["run", "-d", "--name", name, "--network", network]
        for k, v in (labels or {}).items():
            cmd += ["--label", f"{k}={v}"]
        if tty:
            cmd.append("-t")
        cmd += [*args, IMAGE, *(command or ("sleep", "3600"))]
        return self.podman(*cmd)

    def stop(self, name: str, timeout: int = 0) -> None:
        self.podman("stop", "-t", str(timeout), name)

    def start_container(self, name: str) -> None:
        self.podman("start", name)

    def rm(self, *names: str) -> None:
        """``podman rm -f -t 0`` (no error when a name does not exist)."""
        if names:
            self.podman("rm", "-f", "-t", "0", "--ignore", *names)

    def rm_all(self) -> None:
        self.podman("rm", "-a", "-f", "-t", "0")

    def inspect(self, name: str) -> dict[str, Any]:
        return json.loads(self.podman("container", "inspect", name))[0]  # type: ignore[no-any-return]

    def ids(self) -> list[str]:
        """Full ids of the running containers."""
        out = self.podman("ps", "-q", "--no-trunc")
        return out.split() if out else []
