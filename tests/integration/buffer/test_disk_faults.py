"""The disk buffer on a bad day: damaged segment files, a full tmpfs, a read-only mount.

Tests run as root (file modes do not stop root): the read-only directory is a read-only
mount; the full disk a small tmpfs.  Both need mount privileges: without, they skip.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qframe.testing import wait_until
from tests.services import free_port, unavailable
from tests.services.osmem import Osmem

from .helpers import BufferedRun, os_lines, send


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "mnt"
    d.mkdir()
    try:
        mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d))
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(f"cannot mount a tmpfs: {exc}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


async def test_damaged_segments_skip_what_is_lost_and_deliver_the_rest(tmp_path: Path) -> None:
    port = free_port()
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": f"http://127.0.0.1:{port}"})
    server = None
    try:
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        for k in range(10):  # ten input batches: ten records
            send(run.tcp_port, range(k * 100, (k + 1) * 100))
            await wait_until(lambda k=k: run.metric("qframe_disk_buffer_events") >= (k + 1) * 100)
        assert run.stop() == 0
        seg = run.data / "handler.out" / "buffer" / "0000000000000001.seg"
        data = bytearray(seg.read_bytes())
        data[len(data) // 2] ^= 0x40  # a bit flip in a middle record
        seg.write_bytes(bytes(data) + os.urandom(500))  # and garbage after the last one
        (run.data / "handler.out" / "buffer" / "notes.txt").write_text("an operator's")
        run.start()
        await wait_until(lambda: run.metric("qframe_disk_buffer_corrupt_total") == 1)
        server = Osmem.start(port=port)
        await wait_until(lambda: run.metric("qframe_disk_buffer_events") == 0, timeout=60)
        got, total = os_lines(server)
        assert 900 <= total < 1000  # one record lost, counted
        assert set(got.values()) == {1}
        assert {"line 0", "line 999"} <= set(got)
        assert run.alive()
    finally:
        code = run.stop()
        if server is not None:
            server.stop()
    assert code == 0, run.stderr()[-3000:]
    err = run.stderr()
    assert "torn tail" in err and "damaged record" in err
    assert "notes.txt" in err
    assert (run.data / "handler.out" / "buffer" / "notes.txt").exists()


async def test_a_full_tmpfs_blocks_then_drains_without_loss(tmp_path: Path, tmpfs: Path) -> None:
    n = 20_000  # about 6 MB of documents into 2 MB
    port = free_port()
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": f"http://127.0.0.1:{port}"})
    run.conf.write_text(run.conf.read_text().replace(str(run.data), str(tmpfs)))
    run.data = tmpfs
    server = None
    sender = threading.Thread(target=send, args=(run.tcp_port, range(n)))
    try:
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        sender.start()
        await wait_until(
            lambda: "No space left" in run.out_health().get("reason", ""),
            timeout=60,
            what="health degraded: disk full",
        )
        assert run.out_health()["state"] == "degraded"
        server = Osmem.start(port=port)
        await wait_until(lambda: not sender.is_alive(), timeout=120, what="every line taken")
        await wait_until(lambda: run.metric("qframe_delivered_total") == n, timeout=120)
        await wait_until(lambda: run.out_health().get("state") == "ok", timeout=30)
        got, total = os_lines(server)
        assert total == n and set(got.values()) == {1}
        assert run.metric("qframe_disk_buffer_errors_total") >= 1
    finally:
        code = run.stop()
        if server is not None:
            server.stop()
        sender.join(5)
    assert code == 0, run.stderr()[-3000:]


async def test_a_read_only_data_dir_degrades_then_recovers(tmp_path: Path, tmpfs: Path) -> None:
    n = 3_000
    mount("-o", "remount,ro", str(tmpfs))
    port = free_port()
    server = Osmem.start(port=port)
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": server.url})
    run.conf.write_text(run.conf.read_text().replace(str(run.data), str(tmpfs)))
    sender = threading.Thread(target=send, args=(run.tcp_port, range(n)))
    try:
        run.start()
        await wait_until(
            lambda: "Read-only" in run.out_health().get("reason", ""),
            timeout=30,
            what="health degraded: read-only",
        )
        sender.start()
        await wait_until(lambda: run.metric("qframe_delivered_total") == 0)
        mount("-o", "remount,rw", str(tmpfs))
        await wait_until(lambda: run.metric("qframe_delivered_total") == n, timeout=60)
        await wait_until(lambda: run.out_health().get("state") == "ok", timeout=30)
        got, total = os_lines(server)
        assert total == n and set(got.values()) == {1}
    finally:
        code = run.stop()
        server.stop()
        sender.join(5)
    assert code == 0, run.stderr()[-3000:]
