"""Credentials never show: not in logs, /health, /metrics or `validate`; and they work in a URL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.services import free_port
from tests.services.osmem import Osmem

QFRAME = str(Path(sys.executable).with_name("qframe"))
SECRETS = ("urlPw-7f3a", "optPw-91c2", "apiKey-5d0e", "tok-44b8")


def config(tmp: Path, http: int, es: str, influx: str) -> Path:
    cfg = tmp / "p.yml"
    cfg.write_text(
        f"tick: 0.2s\nshutdown-timeout: 2s\nhttp: 127.0.0.1:{http}\ndata-dir: {tmp}/data\n"
        "collector: {stdin: {}}\nhandler:\n"
        f"  es: {{kind: elasticsearch, inputs: stdin, url: 'http://admin:{SECRETS[0]}@{es}', "
        "retry-initial: 20ms, retry-max: 100ms}\n"
        f"  es2: {{kind: elasticsearch, inputs: stdin, url: 'http://{es}', api-key: 'id:{SECRETS[2]}', "
        "retry-initial: 20ms, retry-max: 100ms}\n"
        f"  influx: {{kind: influxdb, inputs: stdin, url: 'http://{influx}', username: admin, "
        f"password: {SECRETS[1]}, retry-initial: 20ms, retry-max: 100ms}}\n"
        f"  influx2: {{kind: influxdb, inputs: stdin, url: 'http://{influx}', bucket: b, "
        f"token: {SECRETS[3]}, retry-initial: 20ms, retry-max: 100ms}}\n"
    )
    return cfg


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


def test_no_secret_in_logs_health_metrics_or_validate(tmp_path: Path) -> None:
    down = f"127.0.0.1:{free_port()}"
    http = free_port()
    cfg = config(tmp_path, http, down, down)
    shown = subprocess.run([QFRAME, "validate", "-c", str(cfg)], capture_output=True, timeout=30)
    assert shown.returncode == 0
    seen = [shown.stdout.decode() + shown.stderr.decode()]
    proc = subprocess.Popen(
        [QFRAME, "run", "-c", str(cfg), "--log-level", "debug"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(b'{"a": 1}\nplain line\n')
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        while True:  # every handler has failed to deliver (or set up) at least once
            try:
                health = get(f"http://127.0.0.1:{http}/health")
            except OSError:
                health = ""
            if health.count('"degraded"') >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert health.count('"degraded"') >= 4, health
        seen += [health, get(f"http://127.0.0.1:{http}/metrics")]
        proc.send_signal(signal.SIGTERM)
        seen.append(proc.stderr.read().decode())
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.stdin.close()
    text = "\n".join(seen)
    assert "items will be retried" in text  # the logs did speak of the failing deliveries
    for s in SECRETS:
        assert s not in text


def test_credentials_in_the_url_are_used_without_a_traceback(tmp_path: Path) -> None:
    server = Osmem.start()
    try:
        host = server.url.split("://", 1)[1]
        cfg = tmp_path / "p.yml"
        cfg.write_text(
            f"tick: 0.2s\ndata-dir: {tmp_path}/data\ncollector: {{stdin: {{}}}}\nhandler:\n"
            f"  es: {{kind: elasticsearch, inputs: stdin, url: 'http://admin:{SECRETS[0]}@{host}', "
            "index: creds}\n"
        )
        res = subprocess.run(
            [QFRAME, "run", "-c", str(cfg)], input=b"a\nb\n", capture_output=True, timeout=60
        )
        assert server.count("creds") == 2
    finally:
        server.stop()
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    assert b"Traceback" not in res.stderr and SECRETS[0].encode() not in res.stderr


def test_credentials_given_twice_exit_2_for_validate_and_run(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yml"
    cfg.write_text(
        "collector: {stdin: {}}\nhandler:\n"
        f"  es: {{kind: elasticsearch, inputs: stdin, url: 'http://admin:{SECRETS[0]}@h:9200', "
        f"username: admin, password: {SECRETS[1]}}}\n"
    )
    for cmd in ("validate", "run"):
        res = subprocess.run(
            [QFRAME, cmd, "-c", str(cfg)], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
        err = res.stderr.decode()
        assert res.returncode == 2
        assert f"{cfg}:3:3: handler.es: credentials both in url (http://***@h:9200)" in err
        assert "Traceback" not in err and all(s not in err for s in SECRETS)
