"""`qframe` as a subprocess: batch runs, signals, reload, validate, plugins, http."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qframe.testing import metric_value
from tests.services import free_port

QFRAME = str(Path(sys.executable).with_name("qframe"))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def wait_for(pred, timeout: float = 10.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def pipeline(tmp: Path, out: Path, http: int | None = None) -> Path:
    extra = f"http: 127.0.0.1:{http}\n" if http else ""
    return write(
        tmp / "p.yml",
        f"{extra}data-dir: {tmp}/data\ncollector:\n  stdin: {{}}\nfilter:\n  id: {{inputs: [stdin]}}\n"
        f"handler:\n  log: {{inputs: [id], format: json, path: {out}}}\n",
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_stdin_batch_job_delivers_every_line_in_order_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    cfg = pipeline(tmp_path, out)
    data = "".join(f"line {i}\n" for i in range(20_000))
    res = subprocess.run(
        [QFRAME, "run", "-c", str(cfg)], input=data.encode(), capture_output=True, timeout=60
    )
    assert res.returncode == 0, res.stderr.decode()
    got = lines(out)
    assert [g["message"] for g in got] == [f"line {i}" for i in range(20_000)]
    assert all(g["source_path"] == ["stdin", "id", "log"] for g in got)
    assert all(g["kind"] == "log" and g["@timestamp"].endswith("Z") for g in got)
    assert b"all input consumed" in res.stderr


def test_a_stdin_that_is_dev_null_or_a_regular_file_is_read_to_its_end(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    cfg = pipeline(tmp_path, out)
    with open(os.devnull, "rb") as null:
        res = subprocess.run(
            [QFRAME, "run", "-c", str(cfg)], stdin=null, capture_output=True, timeout=60
        )
    assert res.returncode == 0, res.stderr.decode()
    assert lines(out) == []
    src = write(tmp_path / "in.txt", "".join(f"f {i}\n" for i in range(1000)))
    with open(src, "rb") as f:
        res = subprocess.run(
            [QFRAME, "run", "-c", str(cfg)], stdin=f, capture_output=True, timeout=60
        )
    assert res.returncode == 0, res.stderr.decode()
    assert [g["message"] for g in lines(out)] == [f"f {i}" for i in range(1000)]


def test_sigterm_drains_in_flight_messages_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline(tmp_path, out, http=port)
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(cfg)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"".join(b"msg %d\n" % i for i in range(5000)))
        proc.stdin.flush()
        wait_for(
            lambda: (
                metric_value(
                    get(f"http://127.0.0.1:{port}/metrics")[1] if _up(port) else "",
                    "qframe_received_total",
                    plugin="stdin",
                )
                == 5000
            ),
            what="stdin to read 5000 lines",
        )
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    finally:
        proc.kill()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert rc == 0, stderr
    assert len(lines(out)) == 5000
    assert "shutting down" in stderr and "stopped" in stderr


def _up(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/health")[0] in (200, 503)
    except OSError:
        return False


def test_health_and_prometheus_metrics_over_http(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    port = free_port()
    cfg = pipeline(tmp_path, out, http=port)
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(cfg)], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"a\nb\nc\n")
        proc.stdin.flush()
        wait_for(lambda: _up(port), what="http server")
        wait_for(lambda: len(lines(out)) == 3, what="3 lines written")
        status, body = get(f"http://127.0.0.1:{port}/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok"
        assert {p["plugin"]: p["state"] for p in health["plugins"]} == {
            "stdin": "ok",
            "id": "ok",
            "log": "ok",
        }
        _, text = get(f"http://127.0.0.1:{port}/metrics")
        assert metric_value(text, "qframe_received_total", plugin="log") == 3
        assert metric_value(text, "qframe_emitted_total", plugin="id") == 3
        assert "# TYPE qframe_dropped_total counter" in text
        assert metric_value(text, "qframe_queue_depth", plugin="log") == 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_sighup_reloads_a_valid_config_and_rejects_an_invalid_one(tmp_path: Path) -> None:
    out1, out2 = tmp_path / "one.json", tmp_path / "two.json"
    cfg = pipeline(tmp_path, out1)
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(cfg)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    err = b""

    def stderr_has(text: str) -> bool:
        nonlocal err
        chunk = proc.stderr.read()  # type: ignore[union-attr]
        if chunk:
            err += chunk
        return text.encode() in err

    try:
        proc.stdin.write(b"first\n")
        proc.stdin.flush()
        wait_for(lambda: len(lines(out1)) == 1, what="first line")
        # an invalid config is rejected, the running pipeline goes on
        cfg.write_text("collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin, fromat: json}\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: stderr_has("reload rejected"), what="the rejection")
        assert stderr_has("fromat")
        proc.stdin.write(b"second\n")
        proc.stdin.flush()
        wait_for(lambda: len(lines(out1)) == 2, what="second line on the old pipeline")
        # so is a hostile one (a recursive alias), without a traceback
        cfg.write_text("collector:\n  stdin: &s {inputs: [*s]}\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: stderr_has("recursive alias *s"), what="the second rejection")
        proc.stdin.write(b"second and a half\n")
        proc.stdin.flush()
        wait_for(lambda: len(lines(out1)) == 3, what="a third line on the old pipeline")
        assert not stderr_has("Traceback")
        # a valid one replaces it
        pipeline(tmp_path, out2)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: stderr_has("reloaded"), what="the reload")
        proc.stdin.write(b"third\n")
        proc.stdin.flush()
        wait_for(lambda: len(lines(out2)) == 1, what="third line on the new pipeline")
        assert lines(out2)[0]["message"] == "third"
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "collector:\n  stdn: {}\nhandler:\n  log: {inputs: stdn}\n",
            "collector.stdn.kind: unknown collector kind 'stdn' (did you mean 'stdin'?)",
        ),
        (
            "collector:\n  stdin: {}\nhandler:\n  log: {inputs: stdin, fromat: json}\n",
            "handler.log.fromat: unknown option",
        ),
        (
            "collector:\n  stdin: {}\nhandler:\n  log: {inputs: nope}\n",
            "handler.log.inputs: unknown input 'nope'",
        ),
        ("collector: [\n", "YAML syntax error"),
        ("a: &a [*a]\n", ":1:8: a.0: recursive alias *a"),
        (
            "collector:\n  stdin: {}\nhandler:\n  log: {kind: log, inputs: stdin, kind: x}\n",
            ":4:35: handler.log.kind: duplicate key (first at line 4, column 9)",
        ),
        (
            "a0: &a0 [a, a, a, a, a, a, a, a, a, a]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
            "more than 100000 values once aliases are expanded",
        ),
    ],
)
def test_validate_and_run_exit_2_on_config_errors_naming_the_key(
    tmp_path: Path, config: str, expected: str
) -> None:
    cfg = write(tmp_path / "bad.yml", config)
    for cmd in (["validate", "-c", str(cfg)], ["run", "-c", str(cfg)]):
        res = subprocess.run(
            [QFRAME, *cmd], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
        assert res.returncode == 2
        assert f"{cfg}:" in res.stderr.decode() and expected in res.stderr.decode()


def test_validate_exits_2_on_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    cfg = tmp_path / "bin.yml"
    cfg.write_bytes(b"collector:\n  stdin: {}\n\xff\xfe\x00garbage")
    res = subprocess.run([QFRAME, "validate", "-c", str(cfg)], capture_output=True, timeout=30)
    assert res.returncode == 2
    assert res.stderr.decode() == f"config error: {cfg}:3:1: not UTF-8 text (byte 0xff)\n"


def test_validate_prints_the_compiled_graph(tmp_path: Path) -> None:
    cfg = pipeline(tmp_path, tmp_path / "o.json")
    res = subprocess.run([QFRAME, "validate", "-c", str(cfg)], capture_output=True, timeout=30)
    assert res.returncode == 0
    assert "collector.stdin (kind stdin): inputs - → filter.id" in res.stdout.decode()


def test_a_port_in_use_exits_1_with_a_one_line_reason(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        cfg = pipeline(tmp_path, tmp_path / "o.json", http=port)
        res = subprocess.run(
            [QFRAME, "run", "-c", str(cfg)],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    assert res.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr.decode()


def test_plugins_lists_and_describes_kinds() -> None:
    res = subprocess.run([QFRAME, "plugins"], capture_output=True, timeout=30, text=True)
    assert res.returncode == 0
    assert "collector  stdin" in res.stdout and "handler    log" in res.stdout
    res = subprocess.run(
        [QFRAME, "plugins", "--describe", "log"], capture_output=True, timeout=30, text=True
    )
    assert res.returncode == 0
    assert "format" in res.stdout and '"text"' in res.stdout and "inputs" in res.stdout
    res = subprocess.run(
        [QFRAME, "plugins", "--describe", "nope"], capture_output=True, timeout=30, text=True
    )
    assert res.returncode == 2


def test_version() -> None:
    res = subprocess.run([QFRAME, "version"], capture_output=True, timeout=30, text=True)
    assert res.returncode == 0 and res.stdout.startswith("qframe 0.1.0")


def test_stdin_cuts_over_long_lines_replaces_invalid_utf8_and_strips_crlf(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    cfg = pipeline(tmp_path, out)
    data = b"ok\r\n" + b"\xff\xfebad\n" + b"x" * 5000 + b"\n" + b"y" * 300_000 + b"\nlast"
    res = subprocess.run(
        [QFRAME, "run", "-c", str(cfg), "--set", "collector.stdin.max-line-bytes=1000"],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr.decode()
    got = lines(out)
    assert [g["message"][:3] for g in got] == ["ok", "\ufffd\ufffdb", "xxx", "yyy", "las"]
    assert got[0]["message"] == "ok" and got[1]["message"] == "\ufffd\ufffdbad"
    assert len(got[2]["message"]) == 1000 and got[2]["tags"] == ["_truncated"]
    assert len(got[3]["message"]) == 1000 and got[3]["tags"] == ["_truncated"]
    assert got[4]["message"] == "last" and "tags" not in got[4]
