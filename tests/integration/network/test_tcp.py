"""The tcp collector against real clients: socat, logger, many sockets, TLS, hostile peers."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import ssl
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qframe.message import Message
from qframe.testing import Harness, metric_value, scrape_metrics, wait_until
from tests.services import require_binary
from tests.services.pki import make_pki

from .helpers import container, http_config, send_lines, teach_inventory, with_inventory


def tcp_pipeline(**opts: Any) -> dict[str, Any]:
    handler = opts.pop("handler", {})
    return {
        "collector": {"tcp": {"bind-host": "127.0.0.1", "bind-port": 0, **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["tcp"], **handler}},
    }


async def test_lines_from_socat_and_logger_arrive_with_the_senders_address(tmp_path: Path) -> None:
    socat = require_binary("socat")
    logger = require_binary("logger")
    data = tmp_path / "lines.txt"
    data.write_bytes(b"".join(b"socat line %d\r\n" % i for i in range(2000)))
    async with Harness(tcp_pipeline()) as h:
        port = h.plugin("tcp").address[1]
        p = await asyncio.create_subprocess_exec(
            socat, "-u", f"FILE:{data}", f"TCP:127.0.0.1:{port}"
        )
        assert await p.wait() == 0
        p = await asyncio.create_subprocess_exec(
            logger, "--tcp", "-n", "127.0.0.1", "-P", str(port), "-t", "qtest", "hello from logger"
        )
        assert await p.wait() == 0
        await h.wait_for(lambda: len(h.captured("out")) == 2001, what="2001 lines")
    got = h.texts()
    assert [t for t in got if t.startswith("socat")] == [f"socat line {i}" for i in range(2000)]
    (syslog,) = [t for t in got if not t.startswith("socat")]
    assert "qtest" in syslog and syslog.endswith("hello from logger")
    for m in h.captured("out"):
        assert m.fields["remote_ip"] == "127.0.0.1" and m.host == "127.0.0.1"
        assert isinstance(m.fields["remote_port"], int) and m.fields["remote_port"] > 0
        assert m.source_path == ["tcp", "out"]


def fd_room(wanted: int) -> int:
    """Raise the open-files limit towards ``wanted`` descriptors; return what is usable."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard > soft):
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


async def test_a_thousand_concurrent_connections_deliver_every_line() -> None:
    # both ends of every connection live in this process: two descriptors each
    conns, per = min(1000, (fd_room(2400) - 300) // 2), 10
    assert conns >= 200
    async with Harness(tcp_pipeline()) as h:
        port = h.plugin("tcp").address[1]

        async def client(i: int) -> None:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            for j in range(per):
                w.write(b"c%d l%d\n" % (i, j))
            await w.drain()
            w.close()
            await w.wait_closed()

        await asyncio.gather(*(client(i) for i in range(conns)))
        await h.wait_for(lambda: len(h.captured("out")) == conns * per, timeout=30)
        await wait_until(lambda: not h.plugin("tcp").server.connections, what="connections closed")
    assert sorted(h.texts()) == sorted(f"c{i} l{j}" for i in range(conns) for j in range(per))
    by_port: dict[int, list[str]] = {}
    for m in h.captured("out"):
        by_port.setdefault(m.fields["remote_port"], []).append(m.message)
    assert len(by_port) == conns  # one source port per connection, lines in order within each
    for lines in by_port.values():
        assert lines == sorted(lines, key=lambda s: int(s.split(" l")[1]))
    assert h.plugin("tcp").metrics.counter("connections") == conns


async def test_a_full_pipeline_stops_the_reading_and_loses_nothing() -> None:
    n = 300_000  # 3.6 MB: more than the collector buffers before it stops reading
    cfg = tcp_pipeline(handler={"delay": "20ms", "queue-size": 500})
    async with Harness(cfg) as h:
        tcp = h.plugin("tcp")
        port = tcp.address[1]
        paused = False

        def sender() -> None:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"".join(b"line %06d\n" % i for i in range(n)))

        send = asyncio.get_running_loop().run_in_executor(None, sender)

        def done() -> bool:
            nonlocal paused
            paused = paused or any(c.paused for c in tcp.server.connections)
            return len(h.captured("out")) == n

        await h.wait_for(done, timeout=60)
        await send
    assert paused, "the collector never stopped reading while the pipeline was full"
    assert h.texts() == [f"line {i:06d}" for i in range(n)]
    assert tcp.metrics.dropped == {}


async def test_many_senders_against_a_full_pipeline_stay_within_the_total_buffer_bound() -> None:
    """16 connections × 1 MB into a slow pipeline with max-buffer-bytes 256 KiB."""
    conns, n = 16, 80_000  # 12-byte lines: about 1 MB per connection
    budget = 256 << 10
    cfg = tcp_pipeline(**{"max-buffer-bytes": budget}, handler={"delay": "5ms", "queue-size": 2000})
    async with Harness(cfg) as h:
        tcp = h.plugin("tcp")
        port = tcp.address[1]
        server = tcp.server
        peak = 0
        held = False

        async def client(c: int) -> None:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"".join(b"%02d %08d\n" % (c, i) for i in range(n)))
            await w.drain()
            w.close()
            await w.wait_closed()

        senders = asyncio.gather(*(client(c) for c in range(conns)))

        def done() -> bool:
            nonlocal peak, held
            peak = max(peak, tcp.server.buffered)
            held = held or bool(tcp.server._held)
            return len(h.captured("out")) == conns * n

        await h.wait_for(done, timeout=120)
        await senders
    # the read that reaches the total stops every connection: one read (≤ 256 KiB) beyond
    # it at most; without the total each could hold its own high-water mark and more
    assert peak <= server.peak <= budget + (256 << 10)
    assert held, "no connection ever waited for the total to come down"
    got: dict[str, list[str]] = {}
    for t in h.texts():
        got.setdefault(t[:2], []).append(t[3:])
    assert got == {f"{c:02d}": [f"{i:08d}" for i in range(n)] for c in range(conns)}


async def test_a_connection_idle_for_idle_timeout_is_closed_after_its_lines_arrived() -> None:
    cfg, http = http_config(tcp_pipeline(**{"idle-timeout": "300ms"}))
    async with Harness(cfg) as h:
        port = h.plugin("tcp").address[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"hello\nlast without newline")
        await w.drain()
        assert await asyncio.wait_for(r.read(), 30) == b""  # the server closed it
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        text = await scrape_metrics(http)
        w.close()
    assert h.texts() == ["hello", "last without newline"]
    assert metric_value(text, "qframe_idle_closed_total", plugin="tcp") == 1


async def test_half_closed_reset_and_garbage_connections_do_not_disturb_the_others() -> None:
    async with Harness(tcp_pipeline()) as h:
        tcp = h.plugin("tcp")
        port = tcp.address[1]
        # half-closed: the peer stops writing but keeps its socket open
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"half 1\nhalf 2 without newline")
        half.shutdown(socket.SHUT_WR)
        # reset: an abortive close (RST) in the middle of a line
        rst = socket.create_connection(("127.0.0.1", port))
        rst.sendall(b"before reset\npartial")
        rst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rst.close()
        # garbage: random binary, invalid UTF-8, NUL bytes
        garbage = os.urandom(200_000) + b"\n\xff\xfe\x00\x80 end\n"
        await send_lines(port, [garbage])
        await send_lines(port, [b"good %d" % i for i in range(100)])
        await h.wait_for(lambda: sum(t.startswith("good") for t in h.texts()) == 100)
        await h.wait_for(lambda: "half 2 without newline" in h.texts())
        await h.wait_for(lambda: "before reset" in h.texts())
        await h.wait_for(lambda: "\ufffd\ufffd\x00\ufffd end" in h.texts())
        half.close()
        assert tcp.metrics.errors == 0 and tcp.metrics.restarts == 0
        assert tcp.metrics.state == "ok"
    assert "half 1" in h.texts()


async def test_json_lines_become_fields_and_broken_ones_are_tagged_and_counted() -> None:
    async with Harness(tcp_pipeline(format="json")) as h:
        port = h.plugin("tcp").address[1]
        await send_lines(
            port,
            [
                b'{"message": "m1", "app": "api", "n": 3, "nested": {"a": [1, 2]}}',
                b"not json at all",
                b'["a list"]',
                b"",
                b'  {"no_message": true}',
            ],
        )
        await h.wait_for(lambda: len(h.captured("out")) == 4)
    m1, bad1, bad2, nomsg = h.captured("out")
    assert m1.message == "m1"
    assert m1.fields == {
        "app": "api",
        "n": 3,
        "nested": {"a": [1, 2]},
        "remote_ip": "127.0.0.1",
        "remote_port": m1.fields["remote_port"],
    }
    assert bad1.message == "not json at all" and bad1.tags == ["_jsonparsefailure"]
    assert bad2.message == '["a list"]' and bad2.tags == ["_jsonparsefailure"]
    assert nomsg.message == "" and nomsg.fields["no_message"] is True
    assert h.plugin("tcp").metrics.counter("invalid_json") == 2


async def test_over_long_lines_are_cut_tagged_and_counted_in_metrics() -> None:
    cfg, http = http_config(tcp_pipeline(**{"max-line-bytes": 100}))
    async with Harness(cfg) as h:
        port = h.plugin("tcp").address[1]
        await send_lines(port, [b"a" * 250, b"short", b"b" * 100_000, b"after"])
        await h.wait_for(lambda: len(h.captured("out")) == 4)
        text = await scrape_metrics(http)
    long1, short, long2, after = h.captured("out")
    assert long1.message == "a" * 100 and long1.tags == ["_truncated"]
    assert long2.message == "b" * 100 and long2.tags == ["_truncated"]
    assert (short.message, short.tags, after.message) == ("short", [], "after")
    assert metric_value(text, "qframe_truncated_total", plugin="tcp") == 2


async def test_over_long_json_lines_are_cut_tagged_and_counted_too() -> None:
    cfg, http = http_config(tcp_pipeline(format="json", **{"max-line-bytes": 100}))
    long = b'{"message": "' + b"a" * 200 + b'"}'
    async with Harness(cfg) as h:
        port = h.plugin("tcp").address[1]
        await send_lines(port, [b'{"message": "short"}', long, b'{"message": "after"}'])
        await h.wait_for(lambda: len(h.captured("out")) == 3)
        text = await scrape_metrics(http)
    short, cut, after = h.captured("out")
    assert (short.message, short.tags) == ("short", [])
    # the cut text is no JSON object any more: kept as text, tagged both ways
    assert cut.message == long[:100].decode()
    assert sorted(cut.tags) == ["_jsonparsefailure", "_truncated"]
    assert (after.message, after.tags) == ("after", [])
    assert metric_value(text, "qframe_truncated_total", plugin="tcp") == 1
    assert metric_value(text, "qframe_invalid_json_total", plugin="tcp") == 1


async def test_the_json_log_of_tcp_lines_is_each_message_as_it_is(tmp_path: Path) -> None:
    """Reads with a cut line or a blank line are encoded message by message, others at once."""
    out = tmp_path / "out.json"
    cfg = tcp_pipeline(
        **{"max-line-bytes": 100},
        handler={"kind": "log", "format": "json", "path": str(out)},
    )
    sent = [b"plain 1", b"x" * 150, b"", b'quoted "2"', b"\xff\xfe bad utf-8"]
    sent += [f"line {i}".encode() for i in range(5000)]
    async with Harness(cfg) as h:
        await send_lines(h.plugin("tcp").address[1], sent)
        await wait_until(lambda: out.exists() and out.read_bytes().count(b"\n") == len(sent))
    lines = out.read_bytes().splitlines()
    docs = [Message.from_json(x) for x in lines]
    assert [d.message for d in docs] == [b.decode("utf-8", "replace")[:100] for b in sent]
    assert [d.tags for d in docs[:3]] == [[], ["_truncated"], []]
    assert all(d.tags == [] for d in docs[3:])
    assert {d.fields["remote_ip"] for d in docs} == {"127.0.0.1"}
    assert {d.host for d in docs} == {"127.0.0.1"}
    assert all(d.source_path == ["tcp", "out"] for d in docs)
    for line, d in zip(lines, docs, strict=True):  # each line is canonical JSON
        assert line == d.to_json()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    openssl = require_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    crt, key = d / "server.crt", d / "server.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(crt), str(key)


async def test_tls_clients_are_served_when_a_certificate_is_configured(
    cert: tuple[str, str],
) -> None:
    crt, key = cert
    async with Harness(tcp_pipeline(**{"tls-cert": crt, "tls-key": key})) as h:
        port = h.plugin("tcp").address[1]
        ctx = ssl.create_default_context(cafile=crt)
        ctx.check_hostname = False
        _, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        w.write(b"".join(b"secret %d\n" % i for i in range(5000)))
        await w.drain()
        w.close()
        # a plain-text client on the TLS port fails its handshake and changes nothing
        await send_lines(port, [b"plain text"])
        await h.wait_for(lambda: len(h.captured("out")) == 5000)
    assert h.texts() == [f"secret {i}" for i in range(5000)]


async def test_with_a_client_ca_only_clients_with_its_certificates_are_served(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    opts = {"tls-cert": str(pki / "server.pem"), "tls-key": str(pki / "server.key")}
    opts["tls-client-ca"] = str(pki / "ca.pem")
    async with Harness(tcp_pipeline(**opts)) as h:
        port = h.plugin("tcp").address[1]
        anonymous = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        try:  # refused during the handshake, or its first read fails
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=anonymous)
            w.write(b"anonymous\n")
            await w.drain()
            assert await asyncio.wait_for(r.read(), 10) == b""
        except (ssl.SSLError, ConnectionError):
            pass
        trusted = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        trusted.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        _, w = await asyncio.open_connection("127.0.0.1", port, ssl=trusted)
        w.write(b"from a known client\n")
        await w.drain()
        w.close()
        await h.wait_for(lambda: len(h.captured("out")) == 1)
    assert h.texts() == ["from a known client"]


async def test_the_inventory_names_the_sender_by_ip_and_an_unknown_one_goes_on_without() -> None:
    cfg = with_inventory(
        {"kind": "tcp", "bind-host": "127.0.0.1", "bind-port": 0, "inventory": "inventory",
         "inventory-timeout-ms": 300},
        name="tcp",
    )  # fmt: skip
    web = container("web1", "127.0.0.1")
    async with Harness(cfg) as h:
        await teach_inventory(h, web)
        port = h.plugin("tcp").address[1]
        await send_lines(port, [b"from web1 %d" % i for i in range(3)])
        # an unknown sender: connect from another loopback address
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"from nobody\n")
        s.close()
        await h.wait_for(lambda: len(h.captured("out")) == 4)
    known = [m for m in h.captured("out") if m.message.startswith("from web1")]
    assert len(known) == 3
    assert all(m.container == web for m in known)
    (unknown,) = [m for m in h.captured("out") if m.message == "from nobody"]
    assert unknown.container is None and unknown.fields["remote_ip"] == "127.0.0.2"


async def test_at_shutdown_every_line_already_read_is_still_delivered() -> None:
    n = 500_000
    payload = b"".join(b"l%d\n" % i for i in range(n))
    h = Harness(tcp_pipeline(handler={"delay": "10ms", "queue-size": 200}), shutdown_timeout=60)
    async with h:
        tcp = h.plugin("tcp")
        port = tcp.address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(payload)  # no drain: the collector will not read it all before the shutdown
        await wait_until(lambda: len(h.captured("out")) > 0)
        conn = next(iter(tcp.server.connections))
    read = conn.bytes_in
    assert 0 < read < len(payload), "the test needs a shutdown in the middle of the stream"
    want = payload[:read].split(b"\n")
    if not want[-1]:
        want.pop()
    # everything the collector had read is in the capture, in order (the last piece too)
    assert h.texts() == [x.decode() for x in want]
    w.close()


async def test_a_json_line_nested_300_deep_does_not_take_its_batch_down(tmp_path: Path) -> None:
    """Decoding stops well below the depth encoding takes: the deep line is a parse failure
    (kept as text) and the two good lines of its batch are written with it."""
    out = tmp_path / "out.json"
    cfg = tcp_pipeline(format="json", handler={"kind": "log", "format": "json", "path": str(out)})
    deep = b'{"message": "deep", "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    async with Harness(cfg) as h:
        await send_lines(
            h.plugin("tcp").address[1], [b'{"message": "a"}', deep, b'{"message": "b"}']
        )
        await wait_until(lambda: out.exists() and out.read_bytes().count(b"\n") == 3)
        assert h.plugin("tcp").metrics.counter("invalid_json") == 1
    docs = [Message.from_json(x) for x in out.read_bytes().splitlines()]
    assert [d.message for d in docs] == ["a", deep.decode(), "b"]
    assert docs[1].tags == ["_jsonparsefailure"]
