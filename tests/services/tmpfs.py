"""A small tmpfs, to make writes fail the way a full disk does (ENOSPC).

Mounting needs root (or CAP_SYS_ADMIN): elsewhere the test is skipped, in CI it fails
(:func:`~tests.services.unavailable`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from . import require_binary, unavailable

__all__ = ["fill_up", "small_tmpfs"]


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "256k") -> Iterator[Path]:
    """``path`` (created) with a tmpfs of ``size`` mounted on it while the block runs."""
    mount = require_binary("mount")
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        unavailable(f"cannot mount a tmpfs (needs root): {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_up(directory: Path) -> Path:
    """Write zeros into ``directory/filler`` until the file system is full (ENOSPC)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        block = b"\0" * 4096
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != 28:  # ENOSPC
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]  # the last partial page too
    finally:
        os.close(fd)
    return filler
