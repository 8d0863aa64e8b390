"""The end of a run: its one-line summary, and the exit code of a batch run that lost messages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.services import free_port
from tests.services.osmem import Osmem

QFRAME = str(Path(sys.executable).with_name("qframe"))


def es_config(tmp: Path, url: str, **extra: str) -> Path:
    opts = ", ".join(f"{k}: {v}" for k, v in extra.items())
    cfg = tmp / "p.yml"
    cfg.write_text(
        f"tick: 0.2s\nshutdown-timeout: 2s\ndata-dir: {tmp}/data\ncollector: {{stdin: {{}}}}\n"
        f"handler:\n  es: {{kind: elasticsearch, inputs: stdin, url: '{url}', "
        f"retry-initial: 20ms, retry-max: 100ms, index: summary-test{', ' if opts else ''}{opts}}}\n"
    )
    return cfg


def batch(cfg: Path, data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [QFRAME, "run", "-c", str(cfg)], input=data, capture_output=True, timeout=60
    )


def summary(stderr: bytes) -> str:
    (line,) = [x for x in stderr.decode().splitlines() if "daemon >> summary: " in x]
    return line.split("summary: ", 1)[1]


def test_a_batch_run_against_a_destination_that_is_down_exits_3(tmp_path: Path) -> None:
    res = batch(es_config(tmp_path, f"http://127.0.0.1:{free_port()}"), b"a\nb\nc\n")
    assert res.returncode == 3, res.stderr.decode()[-2000:]
    assert summary(res.stderr) == (
        "read 3, delivered 0, dead-lettered 0, dropped 0, undelivered 3 (handler.es 3)"
    )
    assert "exit 3: not every message was delivered" in res.stderr.decode()


def test_dead_letters_count_as_handled_so_a_batch_run_that_was_refused_exits_0(
    tmp_path: Path,
) -> None:
    server = Osmem.start()
    try:
        # "message" is a number in this index: the two lines that are not are refused
        server.request(
            "PUT", "/summary-test", {"mappings": {"properties": {"message": {"type": "long"}}}}
        )
        res = batch(es_config(tmp_path, server.url), b"1\ntwo\n3\nfour\n")
        assert server.count("summary-test") == 2
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert summary(res.stderr) == ("read 4, delivered 2, dead-lettered 2, dropped 0, undelivered 0")
    dead = (tmp_path / "data" / "handler.es" / "dead-letter.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["document"]["message"] for x in dead) == ["four", "two"]


def test_a_batch_run_that_delivers_everything_exits_0_with_its_summary(tmp_path: Path) -> None:
    server = Osmem.start()
    try:
        res = batch(es_config(tmp_path, server.url), b"a\nb\nc\n")
        assert server.count("summary-test") == 3
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert summary(res.stderr) == "read 3, delivered 3, dead-lettered 0, dropped 0, undelivered 0"


def test_a_daemon_stopped_by_sigterm_exits_0_and_logs_what_it_could_not_deliver(
    tmp_path: Path,
) -> None:
    cfg = es_config(tmp_path, f"http://127.0.0.1:{free_port()}")
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(cfg)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b"a\nb\n")
    proc.stdin.flush()
    # the handler has them once it retries them
    for line in proc.stderr:
        if b"items will be retried" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    proc.stdin.close()
    assert summary(rest) == (
        "read 2, delivered 0, dead-lettered 0, dropped 0, undelivered 2 (handler.es 2)"
    )


def test_a_batch_run_to_a_nats_server_that_is_down_exits_3(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yml"
    cfg.write_text(
        f"tick: 0.2s\nshutdown-timeout: 2s\ndata-dir: {tmp_path}/data\ncollector: {{stdin: {{}}}}\n"
        f"handler:\n  bus: {{kind: nats, inputs: stdin, url: 'nats://127.0.0.1:{free_port()}'}}\n"
    )
    res = batch(cfg, b"a\nb\n")
    assert res.returncode == 3, res.stderr.decode()[-2000:]
    assert summary(res.stderr) == (
        "read 2, delivered 0, dead-lettered 0, dropped 0, undelivered 2 (handler.bus 2)"
    )
