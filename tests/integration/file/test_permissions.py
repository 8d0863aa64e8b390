"""A file that cannot be read is counted and retried; the other files flow on.

Tests run as root, which reads any file whatever its mode: ``qframe run`` is started
through ``setpriv`` without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so modes apply to it.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from qframe.testing import read_metrics, wait_until
from tests.services import free_port, require_binary

from .helpers import QframeRun, json_lines

NO_DAC = "-dac_override,-dac_read_search"


def health(port: int) -> str:
    """The file collector's state in /health."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            body = json.loads(r.read())
    except OSError:
        return ""
    return next(str(p["state"]) for p in body["plugins"] if p["plugin"] == "files")


def messages(out: Path) -> list[str]:
    return [d["message"] for d in json_lines(out)]


async def test_an_unreadable_file_is_counted_and_read_once_allowed(tmp_path: Path) -> None:
    setpriv = require_binary("setpriv")
    ok = tmp_path / "ok.log"
    secret = tmp_path / "secret.log"
    ok.write_text("ok 1\n")
    secret.write_text("secret 1\n")
    os.chmod(secret, 0)
    out = tmp_path / "out.json"
    port = free_port()
    run = QframeRun(
        tmp_path,
        {
            "http": f"127.0.0.1:{port}",
            "tick": "100ms",
            "data-dir": str(tmp_path / "data"),
            "collector": {
                "files": {
                    "kind": "file",
                    "path": str(tmp_path / "*.log"),
                    "start-position": "beginning",
                    "scan-interval": "100ms",
                    "poll-interval": "20ms",
                    "close-inactive": "300ms",
                }
            },
            "handler": {
                "out": {"kind": "log", "inputs": ["files"], "format": "json", "path": str(out)}
            },
        },
        prefix=[setpriv, f"--inh-caps={NO_DAC}", f"--bounding-set={NO_DAC}"],
    )
    run.start()
    try:
        await wait_until(lambda: "ok 1" in messages(out), timeout=30, what="ok.log read")
        denied = (
            'qframe_rejected_total{plugin="files",kind="file",type="collector",reason="permission"}'
        )
        await wait_until(
            lambda: denied in read_metrics(port), timeout=30, what="permission counted"
        )
        assert "secret 1" not in messages(out)
        assert health(port) == "degraded"
        # the open file loses its read permission: what is already open goes on
        with open(ok, "a") as f:
            f.write("ok 2\n")
        os.chmod(ok, 0)
        await wait_until(lambda: "ok 2" in messages(out), timeout=30, what="ok 2")
        # permission given back: the file is read at the next scan
        os.chmod(secret, 0o644)
        await wait_until(lambda: "secret 1" in messages(out), timeout=30, what="secret read")
        await wait_until(lambda: health(port) == "ok", timeout=30, what="healthy again")
        assert run.alive()
    finally:
        code = run.stop()
    assert code == 0, run.stderr()[-3000:]
    assert "cannot open" in run.stderr()
