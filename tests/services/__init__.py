"""Real services for integration tests: each module starts one and stops it afterwards.

A test that needs a service calls :func:`unavailable` when it cannot start it: on a
developer laptop the test is skipped with the reason; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip (laptop) or fail (CI) because a service could not be started."""
    if IN_CI:
        pytest.fail(f"service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make services installs it)")
    assert path is not None
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
