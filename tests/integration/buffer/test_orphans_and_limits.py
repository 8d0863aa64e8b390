"""A buffer left by a renamed handler is reported; drop-newest at max-bytes is counted."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from qframe.testing import metric_value, wait_until
from tests.integration.file.helpers import QFRAME
from tests.services import free_port

from .helpers import BufferedRun, send


async def test_a_renamed_handler_leaves_a_buffer_that_validate_and_run_report(
    tmp_path: Path,
) -> None:
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": f"http://127.0.0.1:{free_port()}"})
    try:
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        send(run.tcp_port, range(100))
        await wait_until(lambda: run.metric("qframe_disk_buffer_events") == 100)
    finally:
        assert run.stop() == 0
    # the run summary: held in the buffer counts as kept, not undelivered
    assert "kept 100, dropped 0, undelivered 0" in run.stderr()
    config = json.loads(run.conf.read_text())
    config["handler"] = {"renamed": config["handler"].pop("out")}
    run.conf.write_text(json.dumps(config))
    res = await asyncio.to_thread(
        subprocess.run,
        [str(QFRAME), "validate", "-c", str(run.conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "handler.out/buffer: a disk buffer no handler uses" in res.stderr
    assert "bytes in 1 segments" in res.stderr
    run.start()
    try:
        await wait_until(lambda: "a disk buffer no handler uses" in run.stderr(), timeout=30)
    finally:
        assert run.stop() == 0


async def test_drop_newest_at_max_bytes_counts_what_it_drops(tmp_path: Path) -> None:
    n = 5_000
    run = BufferedRun(
        tmp_path,
        {"kind": "elasticsearch", "url": f"http://127.0.0.1:{free_port()}"},
        **{"max-bytes": "256KiB", "when-full": "drop-newest"},
    )
    try:
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        for k in range(0, n, 250):  # batches small enough to fill the buffer one by one
            send(run.tcp_port, range(k, k + 250))
        await wait_until(
            lambda: run.metric("qframe_disk_buffer_written_total") + metric_dropped(run) == n,
            timeout=30,
            what="every line written or dropped",
        )
        assert metric_dropped(run) > 0
        assert run.metric("qframe_disk_buffer_bytes") <= 256 * 1024
    finally:
        assert run.stop() == 0


def metric_dropped(run: BufferedRun) -> float:
    return metric_value(run.metrics(), "qframe_dropped_total", plugin="out", reason="buffer_full")


async def test_a_second_qframe_on_the_same_buffer_is_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = BufferedRun(tmp_path / "a", {"kind": "elasticsearch", "url": url})
    second = BufferedRun(tmp_path / "b", {"kind": "elasticsearch", "url": url})
    config = json.loads(second.conf.read_text())
    config["data-dir"] = str(first.data)
    second.conf.write_text(json.dumps(config))
    try:
        first.start()
        await wait_until(lambda: bool(first.out_health()), timeout=30, what="first up")
        second.start()
        assert second.proc is not None
        code = await asyncio.to_thread(second.proc.wait, 30)
        assert code == 1
        assert "is in use by another qframe" in second.stderr()
        assert "Unclosed" not in second.stderr()
        assert first.alive()
    finally:
        assert first.stop() == 0
        second.stop()
