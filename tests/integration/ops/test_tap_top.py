"""`qframe tap` and `qframe top` against a real `qframe run`; who may tap."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.integration.ops.daemon import QFRAME, TOKEN, Daemon, qframe

LINE = '10.0.0.%d - - [10/Oct/2000:13:55:36 -0700] "GET /%d HTTP/1.0" 200 %d\n'


def lines(n: int) -> bytes:
    return "".join(LINE % (i % 250, i, i) for i in range(n)).encode()


def test_a_tap_while_100000_lines_flow_counts_what_it_drops_and_loses_nothing(
    tmp_path: Path,
) -> None:
    d = Daemon(tmp_path)
    try:
        tap_out = tmp_path / "tap.json"
        with open(tap_out, "w") as f:
            tap = subprocess.Popen(
                [QFRAME, "tap", "--http", d.address, "--token", TOKEN, "--rate", "0", "apache"],
                stdout=f,
                stderr=subprocess.PIPE,
                text=True,
            )
            d.wait_tapped("apache")
            d.feed(lines(100_000))
            assert d.finish() == 0
            _, err = tap.communicate(timeout=60)
        assert tap.returncode == 0, err
        m = re.search(
            r"tap: (\d+) shown; dropped by the daemon: (\d+) over the rate, (\d+) while", err
        )
        assert m, err
        shown, rate, full = map(int, m.groups())
        assert "as last reported" not in err  # the stream ended with the daemon's final counts
        assert rate == 0
        assert shown + full == 100_000  # every message either shown or counted
        assert shown > 0
        got = [json.loads(x) for x in tap_out.read_text().splitlines()]
        assert len(got) == shown
        assert got[0]["source_path"] == ["stdin", "id", "apache"]
        assert got[0]["fields"]["clientip"].startswith("10.0.0.")
        # the pipeline lost nothing to the tap
        assert len(d.out.read_text().splitlines()) == 100_000
    finally:
        d.kill()


def test_tap_limit_text_format_and_rate_drops(tmp_path: Path) -> None:
    d = Daemon(tmp_path)
    try:
        tap = subprocess.Popen(
            [
                QFRAME,
                "tap",
                "--http",
                d.address,
                "--token",
                TOKEN,
                "--rate",
                "5",
                "--format",
                "text",
                "--limit",
                "3",
                "stdin",
                "log",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        d.wait_tapped("log")
        d.feed(lines(2000))
        out, err = tap.communicate(timeout=60)
        assert tap.returncode == 0, err
        shown = out.splitlines()
        assert len(shown) == 3
        assert all(re.match(r"(stdin|log): 10\.0\.0\.\d+ - - ", s) for s in shown), shown
        assert "tap: 3 shown" in err
    finally:
        d.kill()


def test_tap_needs_http_tap_and_the_token_while_health_and_metrics_stay_open(
    tmp_path: Path,
) -> None:
    d = Daemon(tmp_path)
    try:
        assert d.get("/tap?instance=id")[0] == 401
        assert d.get("/tap?instance=id", "wrong")[0] == 401
        assert d.get("/graph")[0] == 401
        assert d.get("/health")[0] == 200
        assert d.get("/metrics")[0] == 200
        assert d.get("/tap?instance=nope", TOKEN)[0] == 404
        assert d.get("/tap", TOKEN)[0] == 400
        res = qframe("tap", "--http", d.address, "id", "--limit", "1")
        assert res.returncode == 1
        assert "401 a bearer token is needed" in res.stderr
    finally:
        d.kill()
    off = Daemon(tmp_path / "off" if (tmp_path / "off").mkdir() is None else tmp_path, tap=False)
    try:
        status, body = off.get("/tap?instance=id", TOKEN)
        assert status == 403
        assert "http-tap: true" in body["error"]
    finally:
        off.kill()


def test_top_once_prints_each_instance_and_the_totals(tmp_path: Path) -> None:
    d = Daemon(tmp_path, token=None)
    try:
        d.feed(lines(500) + b"not apache\n")
        res = qframe("top", "--http", d.address, "--once", "--interval", "0.2")
        assert res.returncode == 0, res.stderr
        rows = res.stdout.splitlines()
        assert rows[0].split() == [
            "INSTANCE",
            "TYPE",
            "KIND",
            "STATE",
            "IN/s",
            "OUT/s",
            "QUEUE",
            "ERRORS",
            "DROPS",
            "RESTARTS",
        ]
        table = {r.split()[0]: r.split() for r in rows[1:] if r and not r.startswith("pipeline")}
        assert set(table) == {"stdin", "id", "apache", "log", "unparsed"}
        assert table["apache"][1:4] == ["filter", "grok", "ok"]
        assert table["log"][6] == "0/10000"
        assert re.search(
            r"^pipeline: in \S+/s  out \S+/s  errors 0  drops 0  restarts 0  instances 5 \(5 ok\)$",
            rows[-1],
            re.M,
        )
        assert "\x1b" not in res.stdout
    finally:
        d.kill()
