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
    ``~/.cache/qframe-image`` (by Debian release; by the wheels, Containerfile and slim.sh), so a
    clean machine pays the debootstrap (~40 s) and the build (~45 s); a changed source, the
    build only.
    """
    if shutil.which("debootstrap") is None:
        unavailable("debootstrap is not installed (make services installs it)")
    t0 = time.monotonic()
    r = build_image(podman, tmp_path_factory.mktemp("image-context"))
    if r.returncode == 3:  # debootstrap could not make the base: no Debian mirror answered
        unavailable(f"debootstrap failed (no Debian mirror?): {r.stderr[-2000:]}")
    # otherwise a failed build is the image's fault, never a skip
    assert r.returncode == 0, f"make image failed: {r.stderr[-3000:]}"
    sys.stderr.write(f"\n{r.stdout.strip()} ({time.monotonic() - t0:.0f} s)\n")
    return IMAGE


def build_image(
    podman: PodmanService, context: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``make image``'s script (deploy/build-image.sh) into this podman's storage."""
    env = {
        **podman.env,
        "PODMAN": " ".join(podman._cmd()),
        "PYTHON": sys.executable,
        "IMAGE": IMAGE,
        "IMAGE_CONTEXT": str(context),
    }
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / "build-image.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def readme_block(test_file: str, nth: int = 0) -> str:
    """The fenced block of README.md that follows ``<!-- tested: <test_file> ... -->``
    (``nth``: the one so many blocks after it)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"<!-- tested: {test_file}")
    for _ in range(nth + 1):
        start = text.index("```", start)
        start = text.index("\n", start) + 1
        end = text.index("```", start)
        block, start = text[start:end], end + 3
    return block


def readme_command(test_file: str, prefix: str, nth: int = 0) -> list[str]:
    """The command of that block starting with ``prefix``, continuation lines joined, split."""
    joined = readme_block(test_file, nth).replace("\\\n", " ")
    for line in joined.splitlines():
        if line.strip().startswith(prefix):
            return shlex.split(line.split("#")[0])
    raise AssertionError(f"README: no {prefix!r} in the block of {test_file}")
