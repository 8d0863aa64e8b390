"""The file collector with its files shared by worker processes (``workers: N``, issue #14).

A real ``qframe run``: 8 files (written before the start and appended to while it runs)
read by 2 or 4 workers, each file by one (a partition by inode), arrive exactly once and
in each file's order; the one checkpoint (written by the main process from the workers'
reports) ends at every file's size. A worker SIGKILLed mid-stream is started again and
reads on from the checkpoint: nothing lost (lines acknowledged after the last checkpoint
may come twice: at least once, as after a crash of one process). A reload to another
number of workers loses nothing. Waits are on conditions (lines in the output, /health).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.integration.network.test_reload import Daemon, lines, poll_until
from tests.integration.network.test_workers import all_alive, by_source, workers_of
from tests.services import free_port

WAIT = 120.0


def config(tmp: Path, out: Path, http: int, workers: int) -> str:
    return f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp / "data"}
tick: 200ms
collector:
  file: {{path: "{tmp / "logs"}/*.log", start-position: beginning, workers: {workers},
          poll-interval: 50ms, drain-timeout: 60s}}
handler:
  out: {{kind: log, inputs: [file], format: json, path: "{out}"}}
"""


def write(tmp: Path, files: int, start: int, n: int) -> None:
    d = tmp / "logs"
    d.mkdir(exist_ok=True)
    for f in range(files):
        with open(d / f"f{f}.log", "ab") as fh:
            fh.write(b"".join(b"f%d %d\n" % (f, i) for i in range(start, start + n)))


def checkpoint(tmp: Path) -> dict[str, int]:
    p = tmp / "data" / "collector.file" / "checkpoints.json"
    try:
        return {Path(r["path"]).name: r["offset"] for r in json.loads(p.read_text())["files"]}
    except (OSError, ValueError):
        return {}


@pytest.mark.parametrize("workers", [2, 4])
def test_eight_files_arrive_exactly_once_in_order(tmp_path: Path, workers: int) -> None:
    http = free_port()
    out = tmp_path / "out.json"
    write(tmp_path, 8, 0, 5000)
    d = Daemon(tmp_path, config(tmp_path, out, http, workers))
    try:
        poll_until(lambda: all_alive(http, "file", workers), WAIT, "the workers in /health")
        poll_until(lambda: len(lines(out)) >= 40_000, WAIT, "the first 40,000 lines")
        write(tmp_path, 8, 5000, 5000)  # appended while it runs: tailed
        poll_until(lambda: len(lines(out)) >= 80_000, WAIT, "80,000 lines")
        sizes = {p.name: p.stat().st_size for p in (tmp_path / "logs").iterdir()}
        # the main process writes the merged checkpoint once every file is acknowledged
        poll_until(lambda: checkpoint(tmp_path) == sizes, WAIT, "the checkpoint at the end")
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    got = by_source(lines(out))
    assert sorted(got) == [f"f{f}" for f in range(8)]
    for seq in got.values():
        assert seq == list(range(10_000))  # each once, in the file's order
    assert checkpoint(tmp_path) == sizes


def test_a_worker_killed_mid_stream_loses_nothing(tmp_path: Path) -> None:
    http = free_port()
    out = tmp_path / "out.json"
    per = 30_000
    write(tmp_path, 8, 0, per)
    d = Daemon(tmp_path, config(tmp_path, out, http, 2))
    try:
        poll_until(lambda: all_alive(http, "file", 2), WAIT, "the workers in /health")
        poll_until(lambda: len(lines(out)) > 10_000, WAIT, "lines to flow")
        victim = workers_of(http, "file")[1]
        os.kill(victim["pid"], signal.SIGKILL)
        poll_until(
            lambda: any(w["restarts"] == 1 and w["alive"] for w in workers_of(http, "file")),
            WAIT,
            "the worker started again",
        )
        assert "died (signal 9)" in d.stderr

        def complete() -> bool:
            got = by_source(lines(out))
            return len(got) == 8 and all(len(set(s)) == per for s in got.values())

        poll_until(complete, WAIT, "every line at least once")
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    got = by_source(lines(out))
    for seq in got.values():
        assert sorted(set(seq)) == list(range(per))
        # a repeat is a re-read from the checkpoint: from there on in order again
        firsts: dict[int, int] = {}
        for pos, n in enumerate(seq):
            firsts.setdefault(n, pos)
        assert [firsts[n] for n in range(per)] == sorted(firsts[n] for n in range(per))


def test_a_reload_to_more_workers_loses_nothing(tmp_path: Path) -> None:
    http = free_port()
    out = tmp_path / "out.json"
    write(tmp_path, 8, 0, 2000)
    d = Daemon(tmp_path, config(tmp_path, out, http, 2))
    try:
        poll_until(lambda: all_alive(http, "file", 2), WAIT, "2 workers")
        poll_until(lambda: len(lines(out)) >= 16_000, WAIT, "16,000 lines")
        d.reload(config(tmp_path, out, http, 4))
        poll_until(lambda: all_alive(http, "file", 4), WAIT, "4 workers")
        write(tmp_path, 8, 2000, 2000)
        poll_until(lambda: len(lines(out)) >= 32_000, WAIT, "32,000 lines")
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    got = by_source(lines(out))
    for seq in got.values():
        assert seq == list(range(4000))  # the old workers drained: exactly once
