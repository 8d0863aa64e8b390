from __future__ import annotations

import pytest

from qframe.logs import setup_logging


@pytest.fixture(autouse=True, scope="session")
def _qframe_logging() -> None:
    setup_logging("debug")
