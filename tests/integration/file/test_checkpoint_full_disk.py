"""The data dir fills up (ENOSPC, a real tmpfs): /health says so until checkpoints are
written again, and no line is lost (issue #21, defect 6)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from qframe.testing import wait_until
from tests.services import free_port
from tests.services.tmpfs import fill_up, small_tmpfs

from .helpers import QframeRun, json_lines, numbers
from .writer import line

LINES = 5000


def write(log: Path, lines: range) -> None:
    with open(log, "ab") as f:
        f.write(b"".join(line(i) for i in lines))


def get(port: int, what: str) -> bytes:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{what}", timeout=2) as r:
            return bytes(r.read())
    except OSError:
        return b""


def files_health(port: int) -> dict[str, Any]:
    body = get(port, "health")
    if not body:
        return {}
    return next(p for p in json.loads(body)["plugins"] if p["plugin"] == "files")


async def test_checkpoint_writes_failing_with_enospc_make_health_degraded(
    tmp_path: Path,
) -> None:
    log, out = tmp_path / "app.log", tmp_path / "out.json"
    log.write_bytes(b"")
    port = free_port()
    with small_tmpfs(tmp_path / "data") as data:
        run = QframeRun(
            tmp_path,
            {
                "http": f"127.0.0.1:{port}",
                "tick": "100ms",
                "data-dir": str(data),
                "collector": {
                    "files": {
                        "kind": "file",
                        "path": str(log),
                        "start-position": "beginning",
                        "poll-interval": "20ms",
                    }
                },
                "handler": {
                    "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
                },
            },
        )
        half = LINES // 2
        try:
            run.start()
            write(log, range(half))
            await wait_until(lambda: len(json_lines(out)) == half, timeout=30, what="half")
            await wait_until(lambda: files_health(port).get("state") == "ok", timeout=30)
            filler = fill_up(data)
            write(log, range(half, LINES))  # read and delivered: the checkpoint must move
            await wait_until(
                lambda: files_health(port).get("state") == "degraded", timeout=30, what="degraded"
            )
            assert "No space left on device" in files_health(port)["reason"]
            assert b'reason="checkpoint_error"' in get(port, "metrics")
            assert json.loads(get(port, "health"))["status"] == "degraded"
            await wait_until(lambda: len(json_lines(out)) == LINES, what="reading goes on")
            filler.unlink()
            await wait_until(
                lambda: files_health(port).get("state") == "ok", timeout=30, what="ok again"
            )
        finally:
            code = run.stop()
        assert code == 0, run.stderr()[-3000:]
        saved = json.loads((data / "collector.files" / "checkpoints.json").read_text())
        assert [r["offset"] for r in saved["files"]] == [log.stat().st_size]
        assert [p.name for p in (data / "collector.files").iterdir()] == ["checkpoints.json"]
    assert sorted(numbers([d["message"] for d in json_lines(out)])) == list(range(LINES))
    assert "cannot write checkpoint" in run.stderr()
