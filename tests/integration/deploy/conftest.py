"""The deploy tests (issue #16): the container image, compose, systemd, dashboards."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services import unavailable
from tests.services.podman import PodmanService

ROOT = Path(__file__).resolve().parents[3]
IMAGE = "localhost/qframe:latest"


@pytest.fixture(scope="session")
def qframe_image(podman: PodmanService, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``make image``'s script into the session's podman storage, once per run.

    The debootstrap root filesystem and the built image are cached under
    ``~/.cache/qframe-image`` (by Debian release; by the content of the wheels), so only a
    clean machine pays the debootstrap (~40 s) and the build (~30 s).
    """
    if shutil.which("debootstrap") is None:
        unavailable("debootstrap is not installed (make services installs it)")
    env = {
        **podman.env,
        "PODMAN": " ".join(podman._cmd()),
        "PYTHON": sys.executable,
        "IMAGE": IMAGE,
        "IMAGE_CONTEXT": str(tmp_path_factory.mktemp("image-context")),
    }
    t0 = time.monotonic()
    r = subprocess.run(
        ["sh", str(ROOT / "deploy" / "build-image.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        unavailable(f"make image failed: {r.stderr[-2000:]}")
    sys.stderr.write(f"\n{r.stdout.strip()} ({time.monotonic() - t0:.0f} s)\n")
    return IMAGE


def readme_block(test_file: str) -> str:
    """The fenced block of README.md that follows ``<!-- tested: <test_file> ... -->``."""
    text = (ROOT / "README.md").read_text()
    at = text.index(f"<!-- tested: {test_file}")
    start = text.index("```", at)
    start = text.index("\n", start) + 1
    return text[start : text.index("```", start)]


def readme_command(test_file: str, prefix: str) -> list[str]:
    """The command of that block starting with ``prefix``, continuation lines joined, split."""
    joined = readme_block(test_file).replace("\\\n", " ")
    for line in joined.splitlines():
        if line.strip().startswith(prefix):
            return shlex.split(line.split("#")[0])
    raise AssertionError(f"README: no {prefix!r} in the block of {test_file}")
