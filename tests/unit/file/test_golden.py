"""Golden cases: a recorded input file and its config give exactly the recorded messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import harness

GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(p.stem for p in GOLDEN.glob("*.yml"))


def shape(m: Any) -> dict[str, Any]:
    """What a golden file records: everything but time, host and the identity hash."""
    return {
        "message": m.message,
        "id_offset": int(m.id.rsplit("-", 1)[1]),
        "fields": {k: v for k, v in m.fields.items() if k != "path"},
        "tags": m.tags,
    }


@pytest.mark.parametrize("case", CASES)
async def test_golden_case_gives_the_recorded_messages(case: str, tmp_path: Path) -> None:
    opts = yaml.safe_load((GOLDEN / f"{case}.yml").read_text())
    src = GOLDEN / opts.pop("path")
    shutil.copy(src, tmp_path / src.name)
    expected = json.loads((GOLDEN / f"{case}.json").read_text())
    opts = {k.replace("-", "_"): v for k, v in opts.items()}
    async with harness(tmp_path, path=str(tmp_path / src.name), **opts) as h:
        await h.wait_for(lambda: len(h.captured("out")) >= len(expected))
        got = [shape(m) for m in h.captured("out")]
    assert got == expected
