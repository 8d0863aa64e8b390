"""An agent whose NATS cannot be reached still ends a batch run (the connect is cut)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.services import free_port


def test_a_batch_run_with_nothing_to_send_ends_though_nats_is_unreachable(
    tmp_path: Path,
) -> None:
    # nats-py's first connect, retrying a refused server, swallowed the stop's
    # cancellation: the run never ended on its own (only SIGTERM + the drain timeout)
    conf = tmp_path / "agent.yml"
    conf.write_text(
        yaml.safe_dump(
            {
                "data-dir": str(tmp_path / "data"),
                "collector": {"in": {"kind": "stdin"}},
                "handler": {
                    "out": {
                        "kind": "nats",
                        "inputs": ["in"],
                        "url": f"nats://127.0.0.1:{free_port()}",
                    }
                },
            }
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "qframe", "run", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,  # generous: it used to never end
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "all input consumed" in proc.stderr
    assert "summary: read 0" in proc.stderr
