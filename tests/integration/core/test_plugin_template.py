"""The example plugin package installs separately and runs in a pipeline, found by entry points."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "examples" / "plugin-template"


def test_the_template_installs_into_a_venv_and_runs_in_a_pipeline(tmp_path: Path) -> None:
    # installed on its own into a separate directory, found only through its entry points
    target = tmp_path / "site"
    src = tmp_path / "template"
    shutil.copytree(TEMPLATE, src, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    py = sys.executable
    listing = subprocess.run(
        [py, "-m", "qframe.cli", "plugins"], capture_output=True, text=True, timeout=60, env=env
    )
    assert "filter     uppercase" in listing.stdout and "collector  counter" in listing.stdout
    without = subprocess.run(
        [py, "-m", "qframe.cli", "plugins"], capture_output=True, text=True, timeout=60
    )
    assert "uppercase" not in without.stdout

    out = tmp_path / "out.json"
    cfg = tmp_path / "p.yml"
    cfg.write_text(
        f"data-dir: {tmp_path}/data\ncollector:\n  counter: {{count: 3, interval: 1ms}}\n"
        f"filter:\n  up: {{kind: uppercase, inputs: [counter]}}\n"
        f"handler:\n  log: {{inputs: [up], format: json, path: {out}}}\n"
    )
    res = subprocess.run(
        [py, "-m", "qframe.cli", "run", "-c", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["message"] for d in docs] == ["TICK 0", "TICK 1", "TICK 2"]
    assert all(d["source_path"] == ["counter", "up", "log"] for d in docs)

    res = subprocess.run(
        [
            py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(src),
            str(src / "tests"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=src,
        env=env,
    )
    assert res.returncode == 0, res.stdout + res.stderr
