"""The log handler after a crash that cut its last line short (a SIGKILL mid-write)."""

from __future__ import annotations

import json
from pathlib import Path

from qframe.message import Message
from qframe.testing import Harness, wait_until


def config(out: Path) -> dict[str, object]:
    return {
        "collector": {"src": {"kind": "list", "linger": True}},
        "handler": {"out": {"kind": "log", "inputs": ["src"], "format": "json", "path": str(out)}},
    }


async def test_a_line_cut_short_is_ended_before_the_next_run_appends(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_bytes(b'{"message": "whole"}\n{"message": "cut sh')
    async with Harness(config(out)) as h:
        await h.plugin("src").send([Message("next")])
        await wait_until(lambda: out.read_bytes().count(b"\n") == 3, what="the new line")
    lines = out.read_bytes().split(b"\n")
    assert lines[:2] == [b'{"message": "whole"}', b'{"message": "cut sh']
    assert json.loads(lines[2])["message"] == "next" and lines[3:] == [b""]


async def test_a_file_that_ends_with_its_newline_gets_none_more(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_bytes(b'{"message": "whole"}\n')
    async with Harness(config(out)) as h:
        await h.plugin("src").send([Message("next")])
        await wait_until(lambda: out.read_bytes().count(b"\n") == 2, what="the new line")
    lines = out.read_bytes().split(b"\n")
    assert lines[0] == b'{"message": "whole"}' and json.loads(lines[1])["message"] == "next"
    assert lines[2:] == [b""]
