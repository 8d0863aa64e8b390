"""Hostile lines in files read by worker processes (``workers: 2``, ``format: json``).

A real ``qframe run``: 8 files, each read by the worker its inode falls to, mix good
JSON lines with broken ones (not JSON, a JSON array, invalid UTF-8 inside and outside
JSON, a lone surrogate escape, NaN, nesting too deep, a line beyond max-line-bytes,
NUL bytes), half written before the start and half appended while it runs.  Every line
arrives once, in its file's order, the broken ones as text tagged ``_jsonparsefailure``;
the main process's /metrics count them (the workers' counters summed there); the
workers that started are the ones running at the end, and the checkpoint ends at every
file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from qframe.testing import metric_value, read_metrics
from tests.integration.file.test_workers import WAIT, checkpoint
from tests.integration.network.test_reload import Daemon, poll_until
from tests.integration.network.test_workers import all_alive, workers_of
from tests.services import free_port

pytestmark = pytest.mark.integration

FILES = 8
PER = 150  # good lines per file, each followed by a broken one

LONG = b'{"message": "' + b"z" * 6000 + b'"}'  # cut at 4 KiB: then not JSON either
#: broken lines, and whether each holds bytes that are not UTF-8 (replaced before the
#: JSON is decoded: the object in the third one is read, its message with U+FFFD)
BROKEN: list[tuple[bytes, bool]] = [
    (b"not json at all", False),
    (b"[1, 2, 3]", False),
    (b'{"message": "\xff\xfe invalid utf-8"}', True),
    (LONG, False),
    (b'{"message": "unfinished', False),
    (b"\xc3\x28\xa0\xa1 latin garbage", True),
    (b'{"message": "lone \\ud800 surrogate"}', False),
    (b'{"message": "x", "n": NaN}', False),
    (b'{"a":' * 500 + b"1" + b"}" * 500, False),  # nested too deep
    (b"nul \x00 bytes \x00", False),
]


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.endswith(b"}")]


def write(logs: Path, start: int, n: int) -> None:
    logs.mkdir(exist_ok=True)
    for f in range(FILES):
        with open(logs / f"f{f}.log", "ab") as fh:
            for i in range(start, start + n):
                fh.write(orjson.dumps({"message": f"f{f} {i}", "n": i}) + b"\n")
                fh.write(BROKEN[(f + i) % len(BROKEN)][0] + b"\n")


def test_broken_lines_in_files_read_by_workers_are_counted_and_kept(tmp_path: Path) -> None:
    http = free_port()
    out = tmp_path / "out.json"
    logs = tmp_path / "logs"
    write(logs, 0, PER // 2)
    d = Daemon(
        tmp_path,
        f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp_path / "data"}
tick: 200ms
collector:
  file: {{path: "{logs}/*.log", start-position: beginning, workers: 2, format: json,
          max-line-bytes: 4KiB, poll-interval: 50ms}}
handler:
  out: {{kind: log, inputs: [file], format: json, path: "{out}"}}
""",
    )
    try:
        poll_until(lambda: all_alive(http, "file", 2), WAIT, "the workers in /health")
        pids = {w["pid"] for w in workers_of(http, "file")}
        poll_until(lambda: len(records(out)) >= FILES * PER, WAIT, "the first half")
        write(logs, PER // 2, PER - PER // 2)  # appended while it runs: tailed
        total = 2 * FILES * PER
        poll_until(lambda: len(records(out)) >= total, WAIT, f"{total} lines")
        sizes = {p.name: p.stat().st_size for p in logs.iterdir()}
        poll_until(lambda: checkpoint(tmp_path) == sizes, WAIT, "the checkpoint at the end")
        recs = records(out)
        assert len(recs) == total  # once each
        good: dict[str, list[int]] = {}
        broken: dict[str, list[int]] = {}
        replaced = 0
        for rec in recs:
            name = Path(rec["fields"]["path"]).stem
            if "_jsonparsefailure" in (rec.get("tags") or []):
                broken.setdefault(name, []).append(rec["fields"]["offset"])
            elif rec["message"] == "\ufffd\ufffd invalid utf-8":
                replaced += 1
            else:
                src, n = rec["message"].split()
                assert src == name and rec["fields"]["n"] == int(n)
                good.setdefault(name, []).append(int(n))
        assert good == {f"f{f}": list(range(PER)) for f in range(FILES)}  # in order
        for offsets in broken.values():
            assert offsets == sorted(offsets)
        kinds = [BROKEN[(f + i) % len(BROKEN)] for f in range(FILES) for i in range(PER)]
        n_replaced = sum(1 for b in kinds if b is BROKEN[2])
        assert replaced == n_replaced
        assert sum(map(len, broken.values())) == FILES * PER - n_replaced
        want = {
            "qframe_invalid_json_total": FILES * PER - n_replaced,
            "qframe_truncated_total": sum(1 for b in kinds if b[0] is LONG),
            "qframe_invalid_text_total": sum(1 for b in kinds if b[1]),
        }
        for name, n in want.items():
            poll_until(
                lambda name=name, n=n: (
                    metric_value(read_metrics(http, timeout=5), name, plugin="file") == n
                ),
                WAIT,
                f"{name} == {n}",
            )
        ws = workers_of(http, "file")
        assert {w["pid"] for w in ws} == pids and all(w["restarts"] == 0 for w in ws), ws
        assert "died" not in d.stderr
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    assert "Traceback" not in d.stderr
