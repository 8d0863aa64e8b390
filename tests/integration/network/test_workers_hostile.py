"""Hostile input through collector worker processes (``workers: 2``, issue #14).

A real ``qframe run`` whose tcp and gelf collectors run in 2 worker processes each
(``SO_REUSEPORT``: the kernel spreads senders over the workers' sockets; 16 senders per
case, so that both workers get their share but in 1 run in 32,768).  Senders mix good
messages with broken ones — GELF with bad gzip, truncated gzip, bad JSON, invalid UTF-8,
a decompression bomb, a chunked message beyond max-message-bytes, a bad chunk count, a
bad magic; tcp lines beyond max-line-bytes, invalid UTF-8, lines of ``format: json``
that are not JSON objects.  Every broken one is counted in the main process's /metrics
(the workers' counters summed there) by its reason, every good one arrives exactly once
in its sender's order, and the workers are the ones that started: none died or was
started again.
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from qframe.testing import metric_value, read_metrics
from tests.integration.network.test_reload import Daemon, poll_until
from tests.integration.network.test_workers import WAIT, all_alive, gelf_config, workers_of
from tests.services import free_port

pytestmark = pytest.mark.integration

SENDERS = 16
LIMIT = 16384  # max-message-bytes / the GELF limit of these tests


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.endswith(b"}")]


def metric(http: int, name: str, **labels: str) -> float:
    try:
        return metric_value(read_metrics(http, timeout=5), name, **labels)
    except OSError:
        return -1.0


def unchanged_workers(d: Daemon, http: int, plugin: str, pids: set[int]) -> None:
    """The workers that started are the ones running: none died, none started again."""
    ws = workers_of(http, plugin)
    assert {w["pid"] for w in ws} == pids, ws
    assert all(w["alive"] and w["restarts"] == 0 for w in ws), ws
    assert metric(http, "qframe_worker_restarts_total", plugin=plugin) == 0
    assert "died" not in d.stderr, d.stderr


def await_rejected(http: int, plugin: str, want: dict[str, int]) -> None:
    """Await /metrics counting exactly *want* (reason → count) as rejected by *plugin*."""
    for reason, n in want.items():
        poll_until(
            lambda reason=reason, n=n: (
                metric(http, "qframe_rejected_total", plugin=plugin, reason=reason) == n
            ),
            WAIT,
            f"{n} rejected as {reason} in /metrics",
        )


def numbers_by_source(out: Path) -> dict[str, list[int]]:
    """The output's ``"<source> <n>"`` messages: each source's numbers, in output order."""
    got: dict[str, list[int]] = {}
    for rec in records(out):
        src, n = rec["message"].split()
        got.setdefault(src, []).append(int(n))
    return got


def start(tmp_path: Path, text: str, http: int, plugins: list[str]) -> tuple[Daemon, set[int]]:
    d = Daemon(tmp_path, text)
    for p in plugins:
        poll_until(lambda p=p: all_alive(http, p, 2), WAIT, f"the workers of {p} in /health")
    pids = {w["pid"] for p in plugins for w in workers_of(http, p)}
    assert len(pids) == 2 * len(plugins) and os.getpid() not in pids
    return d, pids


def gelf(text: str) -> bytes:
    return orjson.dumps({"version": "1.1", "host": "h", "short_message": text})


def chunks(body: bytes, size: int) -> list[bytes]:
    mid = os.urandom(8)
    parts = [body[k : k + size] for k in range(0, len(body), size)]
    return [b"\x1e\x0f" + mid + bytes([i, len(parts)]) + p for i, p in enumerate(parts)]


#: the broken UDP payloads one sender sends in a round, and the reason each is counted by
def hostile_udp() -> list[tuple[list[bytes], str]]:
    good = gelf("never seen")
    return [
        ([b"\x1f\x8b" + os.urandom(200)], "bad_compression"),  # gzip magic, garbage
        ([gzip.compress(good)[:-12]], "bad_compression"),  # gzip cut short
        ([b'{"version": "1.1", "host": "h", "short_message": '], "invalid_json"),
        ([b'{"version":"1.1","host":"h","short_message":"\xff\xfe bad"}'], "invalid_json"),
        ([zlib.compress(b'{"a":"' + b"0" * (LIMIT * 8) + b'"}')], "decompression_bomb"),
        # chunked, 3 × 6,000 bytes: the third one goes beyond max-message-bytes
        (chunks(gelf("x" * 17_900), 6000), "oversized"),
        ([b"\x1e\x0f" + os.urandom(8) + bytes([0, 200]) + good], "bad_chunk_count"),
        ([b"hello, not gelf"], "bad_magic"),
        ([b'{"version":"1.1","host":"h","short_message":"lone \\ud800"}'], "invalid_json"),
        ([b'{"version":"1.1","host":"h","short_message":"x","_n":NaN}'], "invalid_json"),
        ([b'{"a":' * 2000 + b"1" + b"}" * 2000], "invalid_json"),  # nested too deep
        ([b'{"version": "1.1", "host": "h"}'], "missing_field"),
    ]


def test_gelf_udp_hostile_datagrams_are_counted_by_the_workers(tmp_path: Path) -> None:
    udp, http = free_port(socket.SOCK_DGRAM), free_port()
    out = tmp_path / "out.json"
    text = gelf_config(tmp_path, udp, http, "udp", f", max-message-bytes: {LIMIT}")
    d, pids = start(tmp_path, text, http, ["gelf"])
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(SENDERS)]
    rounds = 4
    want: dict[str, int] = {}
    try:
        for r in range(rounds):
            for s_idx, s in enumerate(senders):
                s.sendto(gelf(f"s{s_idx} {2 * r}"), ("127.0.0.1", udp))
                for datagrams, reason in hostile_udp():
                    for dg in datagrams:
                        s.sendto(dg, ("127.0.0.1", udp))
                    want[reason] = want.get(reason, 0) + 1
                # a good one after the broken ones, gzip'd (Docker's default)
                s.sendto(gzip.compress(gelf(f"s{s_idx} {2 * r + 1}")), ("127.0.0.1", udp))
                if s_idx % 4 == 3:  # UDP: what the socket buffer cannot hold is lost
                    need = (r * SENDERS + s_idx + 1) * 2
                    poll_until(lambda n=need: len(records(out)) >= n, WAIT, f"{need} messages")
        await_rejected(http, "gelf", want)
        got = numbers_by_source(out)
        assert got == {f"s{i}": list(range(2 * rounds)) for i in range(SENDERS)}
        assert metric(http, "qframe_rejected_total", plugin="gelf") == sum(want.values())
        assert metric(http, "qframe_received_total", plugin="gelf") == 2 * rounds * SENDERS
        assert metric(http, "qframe_udp_kernel_drops", plugin="gelf") == 0
        unchanged_workers(d, http, "gelf", pids)
    finally:
        for s in senders:
            s.close()
        code = d.stop()
    assert code == 0, d.stderr
    assert "Traceback" not in d.stderr


def send_conn(port: int, payload: bytes, shut: bool = True) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
            s.settimeout(WAIT)
            while s.recv(4096):  # until the daemon closes it: everything was read
                pass


def in_parallel(port: int, payloads: list[bytes]) -> None:
    threads = [threading.Thread(target=send_conn, args=(port, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)


def test_gelf_tcp_hostile_frames_are_counted_by_the_workers(tmp_path: Path) -> None:
    tcp, http = free_port(), free_port()
    out = tmp_path / "out.json"
    text = gelf_config(tmp_path, tcp, http, "tcp", f", max-message-bytes: {LIMIT}")
    d, pids = start(tmp_path, text, http, ["gelf"])
    hostile = [
        (b"\x1f\x8b" + os.urandom(100).replace(b"\0", b"\1"), "bad_compression"),
        (b'{"version": "1.1", "short_message": ', "invalid_json"),
        (b'{"version":"1.1","host":"h","short_message":"\xff\xfe bad"}', "invalid_json"),
        (b"[1, 2, 3]", "invalid_json"),
        (gelf("y" * (LIMIT + 4000)), "oversized"),  # beyond max-message-bytes
        (b'{"version": "1.1", "host": "h"}', "missing_field"),
        (b"plain words", "bad_magic"),
    ]
    per = 20
    try:
        payloads = []
        for c in range(SENDERS):
            frames = []
            for i in range(per):
                frames.append(gelf(f"c{c} {i}"))
                frame, _ = hostile[(c + i) % len(hostile)]
                frames.append(frame)
            payloads.append(b"\0".join(frames) + b"\0")
        in_parallel(tcp, payloads)
        poll_until(lambda: len(records(out)) >= SENDERS * per, WAIT, "every good frame")
        want: dict[str, int] = {}
        for c in range(SENDERS):
            for i in range(per):
                reason = hostile[(c + i) % len(hostile)][1]
                want[reason] = want.get(reason, 0) + 1
        await_rejected(http, "gelf", want)
        got = numbers_by_source(out)
        assert got == {f"c{c}": list(range(per)) for c in range(SENDERS)}  # once, in order
        assert metric(http, "qframe_connections_total", plugin="gelf") == SENDERS
        unchanged_workers(d, http, "gelf", pids)
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    assert "Traceback" not in d.stderr


def test_tcp_hostile_lines_json_and_plain_are_counted_by_the_workers(tmp_path: Path) -> None:
    """``format: json`` and ``format: line``, each in 2 workers: a line that is not a
    JSON object is forwarded as text, tagged ``_jsonparsefailure`` and counted; one beyond
    max-line-bytes is cut, tagged ``_truncated`` and counted; invalid UTF-8 is replaced."""
    pj, pl, http = free_port(), free_port(), free_port()
    out = tmp_path / "out.json"
    text = f"""log: {{level: info}}
http: 127.0.0.1:{http}
data-dir: {tmp_path / "data"}
collector:
  tj: {{kind: tcp, bind-host: 127.0.0.1, bind-port: {pj}, workers: 2, format: json,
        max-line-bytes: 4KiB}}
  tl: {{kind: tcp, bind-host: 127.0.0.1, bind-port: {pl}, workers: 2, max-line-bytes: 4KiB}}
handler:
  out: {{kind: log, inputs: [tj, tl], format: json, path: "{out}"}}
"""
    d, pids = start(tmp_path, text, http, ["tj", "tl"])
    per = 30
    long = b'{"message": "' + b"z" * 6000 + b'"}'  # cut at 4 KiB: then not JSON either
    json_bad = [
        b"not json at all",
        b"[1, 2, 3]",
        b'{"message": "\xff\xfe invalid utf-8"}',
        long,
        b'{"message": "unfinished',
        b"\xc3\x28\xa0\xa1",
        b'{"message": "lone \\ud800 surrogate"}',
        b'{"message": "x", "n": NaN}',
        b'{"a":' * 500 + b"1" + b"}" * 500,  # nested too deep (< max-line-bytes)
    ]
    try:
        jsons, plains = [], []
        for c in range(SENDERS):
            jl, pl_ = [], []
            for i in range(per):
                jl.append(orjson.dumps({"message": f"j{c} {i}", "n": i}))
                jl.append(json_bad[(c + i) % len(json_bad)])
                pl_.append(b"p%d %d" % (c, i))
                pl_.append(b"w" * 5000 if (c + i) % 2 else b"bad \xff\xfe\xc3\x28 bytes")
            jsons.append(b"\n".join(jl) + b"\n")
            plains.append(b"\n".join(pl_) + b"\n")
        threads = [
            threading.Thread(target=in_parallel, args=(pj, jsons)),
            threading.Thread(target=in_parallel, args=(pl, plains)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        total = 2 * 2 * SENDERS * per  # every line arrives, good or not
        poll_until(lambda: len(records(out)) >= total, WAIT, f"{total} lines")
        recs = records(out)
        assert len(recs) == total
        good_j: dict[str, list[int]] = {}
        good_p: dict[str, list[int]] = {}
        bad_j = trunc_j = trunc_p = replaced = 0
        for rec in recs:
            tags = rec.get("tags") or []
            msg = rec["message"]
            if rec["source_path"][0] == "tj":
                if "_jsonparsefailure" in tags:
                    bad_j += 1
                    trunc_j += "_truncated" in tags
                else:
                    src, n = msg.split()
                    good_j.setdefault(src, []).append(int(n))
                    assert rec["fields"]["n"] == int(n)
            elif msg.startswith("p"):
                src, n = msg.split()
                good_p.setdefault(src, []).append(int(n))
            elif "_truncated" in tags:
                trunc_p += 1
                assert msg == "w" * 4096
            else:
                assert msg == "bad \ufffd\ufffd\ufffd( bytes", msg
                replaced += 1
        assert good_j == {f"j{c}": list(range(per)) for c in range(SENDERS)}  # in order
        assert good_p == {f"p{c}": list(range(per)) for c in range(SENDERS)}
        n_bad = SENDERS * per
        assert bad_j == n_bad
        k = len(json_bad)
        n_long = sum(1 for c in range(SENDERS) for i in range(per) if json_bad[(c + i) % k] is long)
        assert trunc_j == n_long
        assert trunc_p == n_bad // 2 and replaced == n_bad // 2
        for name, plugin, n in (
            ("qframe_invalid_json_total", "tj", n_bad),
            ("qframe_truncated_total", "tj", n_long),
            ("qframe_truncated_total", "tl", n_bad // 2),
            ("qframe_connections_total", "tj", SENDERS),
            ("qframe_connections_total", "tl", SENDERS),
        ):
            poll_until(
                lambda name=name, plugin=plugin, n=n: metric(http, name, plugin=plugin) == n,
                WAIT,
                f"{name}{{plugin={plugin}}} == {n}",
            )
        for p in ("tj", "tl"):
            unchanged_workers(d, http, p, {w["pid"] for w in workers_of(http, p)} & pids)
    finally:
        code = d.stop()
    assert code == 0, d.stderr
    assert "Traceback" not in d.stderr
