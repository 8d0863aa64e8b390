"""Golden case: recorded docker-events (Podman 4.3) and lines in → the expected messages out.

``golden/recorded.jsonl`` holds the input in canonical JSON, ``golden/expected.jsonl`` the
output.  Rewrite the expectation after a deliberate change with
``QFRAME_UPDATE_GOLDEN=1 pytest tests/unit/inventory/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qframe.testing import Harness

HERE = Path(__file__).parent / "golden"


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line[:1] == "{"]


async def test_recorded_events_and_lines_give_the_expected_enriched_messages() -> None:
    config = {
        "tick": "1h",
        "collector": {"recorded": {"kind": "list", "messages": read(HERE / "recorded.jsonl")}},
        # wait 0: misses are decided at once, so the output order is deterministic
        "filter": {"inventory": {"inputs": ["recorded"], "wait": "0s"}},
        "handler": {"out": {"kind": "capture", "inputs": ["inventory"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion(30)
        got = [m.to_dict() for m in h.captured("out")]
    expected_path = HERE / "expected.jsonl"
    if os.environ.get("QFRAME_UPDATE_GOLDEN"):
        expected_path.write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in got))
    assert got == read(expected_path)
    # the points of the case, spelled out
    lines = {d["message"]: d for d in got if d["kind"] == "log"}
    assert "container" not in lines["before any container"]
    assert lines["before any container"]["tags"] == ["_inventory_miss"]
    for text in ("GET / 200", "by gelf container id", "a late line after the removal"):
        assert lines[text]["container"]["name"] == "web1", text
        assert lines[text]["container"]["labels"] == {"app": "shop"}
        assert "tags" not in lines[text]
    assert lines["by gelf container name"]["container"]["name"] == "quiet"
    assert lines["a stranger"]["tags"] == ["_inventory_miss"]
    assert "tags" not in lines["no container key at all"]
    # container events pass through untouched
    skip = ("source_path", "source_success")
    events_out = [
        {k: v for k, v in d.items() if k not in skip} for d in got if d["kind"] == "event"
    ]
    events_in = [d for d in read(HERE / "recorded.jsonl") if d["kind"] == "event"]
    assert len(events_in) == 9 and events_out == events_in
