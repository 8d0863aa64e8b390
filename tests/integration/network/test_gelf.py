"""The gelf collector against real GELF clients (graypy, pygelf), Docker-shaped datagrams
and hostile senders; counters checked on the real /metrics endpoint."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import random
import socket
import ssl
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graypy
import orjson
import pygelf
import pytest
from pydantic import ValidationError

from qframe.plugins.collectors.gelf import GelfCollector, udp_kernel_drops
from qframe.testing import Harness, metric_value, scrape_metrics
from tests.services.pki import make_pki

from .helpers import container, http_config, teach_inventory, udp_sender, with_inventory

MAGIC = b"\x1e\x0f"


def gelf_pipeline(protocol: str = "udp", **opts: Any) -> dict[str, Any]:
    handler = opts.pop("handler", {})
    return {
        "collector": {"gelf": {"bind-host": "127.0.0.1", "port": 0, "protocol": protocol, **opts}},
        "handler": {"out": {"kind": "capture", "inputs": ["gelf"], **handler}},
    }


@pytest.fixture
def pylogger() -> Iterator[logging.Logger]:
    lg = logging.getLogger(f"gelf-test-{os.urandom(4).hex()}")
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    yield lg
    for hd in list(lg.handlers):
        lg.removeHandler(hd)
        hd.close()


def noise(n: int, seed: int) -> str:
    """Text that does not compress much, so that it really needs many chunks."""
    rnd = random.Random(seed)
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(n))


def by_client(h: Harness) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in h.captured("out"):
        out.setdefault(str(m.fields.get("client")), []).append(m)
    return out


async def test_graypy_and_pygelf_over_udp_arrive_chunked_and_compressed_with_their_fields(
    pylogger: logging.Logger,
) -> None:
    async with Harness(gelf_pipeline()) as h:
        port = h.plugin("gelf").address[1]
        gray = graypy.GELFUDPHandler(
            "127.0.0.1", port, gelf_chunker=graypy.handler.BaseGELFChunker(500)
        )
        gray.addFilter(lambda r: setattr(r, "client", "graypy") or True)
        pyg = pygelf.GelfUdpHandler(
            host="127.0.0.1", port=port, compress=True, chunk_size=700, include_extra_fields=True
        )
        pyg.addFilter(lambda r: setattr(r, "client", "pygelf") or True)
        pyg_plain = pygelf.GelfUdpHandler(
            host="127.0.0.1", port=port, compress=False, include_extra_fields=True
        )
        pyg_plain.addFilter(lambda r: setattr(r, "client", "pygelf-plain") or True)
        for hd in (gray, pyg, pyg_plain):
            pylogger.addHandler(hd)
        big = noise(20_000, 1)  # ~30 chunks of 500 bytes, zlib-compressed
        pylogger.warning("big %s", big, extra={"request_id": "r-1", "attempt": 2})
        for i in range(20):
            pylogger.info("small %d", i, extra={"request_id": f"r-{i}"})
        await h.wait_for(lambda: len(h.captured("out")) == 63, what="63 messages")
    got = by_client(h)
    assert sorted(got) == ["graypy", "pygelf", "pygelf-plain"]
    for client, msgs in got.items():
        assert len(msgs) == 21, client
        first = next(m for m in msgs if m.message.startswith("big"))
        assert first.message == f"big {big}"
        assert first.level == 4  # WARNING → syslog warning
        assert first.fields["request_id"] == "r-1" and first.fields["attempt"] == 2
        assert first.fields["remote_ip"] == "127.0.0.1"
        smalls = sorted(m.message for m in msgs if m.message.startswith("small"))
        assert smalls == sorted(f"small {i}" for i in range(20))
        assert abs(first.time - time.time()) < 60
    assert h.plugin("gelf").metrics.counters == {}


async def test_graypy_and_pygelf_over_tcp_arrive_from_many_connections(
    pylogger: logging.Logger,
) -> None:
    async with Harness(gelf_pipeline("tcp")) as h:
        port = h.plugin("gelf").address[1]
        gray = graypy.GELFTCPHandler("127.0.0.1", port)
        gray.addFilter(lambda r: setattr(r, "client", "graypy") or True)
        pyg = pygelf.GelfTcpHandler(host="127.0.0.1", port=port, include_extra_fields=True)
        pyg.addFilter(lambda r: setattr(r, "client", "pygelf") or True)
        pylogger.addHandler(gray)
        pylogger.addHandler(pyg)
        big = noise(100_000, 2)
        await asyncio.to_thread(pylogger.error, "big %s", big, extra={"k": "v"})
        for i in range(50):
            await asyncio.to_thread(pylogger.info, "line %d", i, extra={"k": i})

        async def raw(i: int) -> None:  # many plain sockets, several messages each
            _, w = await asyncio.open_connection("127.0.0.1", port)
            for j in range(5):
                w.write(orjson.dumps({"short_message": f"raw {i}.{j}", "_client": "raw"}) + b"\0")
            await w.drain()
            w.close()

        await asyncio.gather(*(raw(i) for i in range(200)))
        await h.wait_for(lambda: len(h.captured("out")) == 2 * 51 + 1000, what="1102 messages")
    got = by_client(h)
    for client in ("graypy", "pygelf"):
        msgs = got[client]
        assert [m.message for m in msgs][1:] == [f"line {i}" for i in range(50)]
        assert msgs[0].message == f"big {big}" and msgs[0].level == 3
        assert msgs[0].fields["k"] == "v" and msgs[1].fields["k"] == 0
    assert sorted(m.message for m in got["raw"]) == sorted(
        f"raw {i}.{j}" for i in range(200) for j in range(5)
    )


def docker_payload(cid: str, name: str, text: str, stream: str = "stdout") -> dict[str, Any]:
    """What Docker's gelf log driver sends for one line (driver defaults)."""
    return {
        "version": "1.1",
        "host": "docker-host",
        "short_message": text,
        "timestamp": round(time.time(), 3),
        "level": 6 if stream == "stdout" else 3,
        "_command": "nginx -g daemon off;",
        "_container_id": cid,
        "_container_name": name,
        "_created": "2026-11-26T05:00:00.123456789Z",
        "_image_id": "sha256:" + "ef" * 32,
        "_image_name": "nginx:1.25",
        "_tag": cid[:12],
    }


def docker_datagrams(payload: dict[str, Any], chunk: int = 1420) -> list[bytes]:
    """gzip (the driver's default compression), chunked like Docker when large."""
    data = gzip.compress(orjson.dumps(payload))
    if len(data) <= chunk:
        return [data]
    mid = os.urandom(8)
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return [MAGIC + mid + struct.pack("BB", i, len(parts)) + p for i, p in enumerate(parts)]


async def test_gzip_datagrams_shaped_like_dockers_gelf_driver_carry_their_container() -> None:
    cid = "a1b2c3d4" * 8
    async with Harness(gelf_pipeline()) as h:
        port = h.plugin("gelf").address[1]
        rnd = random.Random(7)
        with udp_sender() as s:
            for i in range(200):
                text = f"line {i}" if i % 10 else f"long line {i} {noise(30_000, i)}"
                grams = docker_datagrams(
                    docker_payload(cid, "/web1", text, ("stdout", "stderr")[i % 2])
                )
                rnd.shuffle(grams)
                for g in grams:
                    s.sendto(g, ("127.0.0.1", port))
                if i % 20 == 0:
                    await asyncio.sleep(0)  # let the collector keep up with the burst
        await h.wait_for(lambda: len(h.captured("out")) == 200)
    msgs = sorted(
        h.captured("out"),
        key=lambda m: int(m.message.split()[-1 if m.message.startswith("line") else 2]),
    )
    for i, m in enumerate(msgs):
        assert m.message.startswith(f"line {i}" if i % 10 else f"long line {i} ")
        assert m.level == (6 if i % 2 == 0 else 3)
        assert m.host == "docker-host"
        assert m.fields["tag"] == cid[:12]
        assert m.container is not None
        assert m.container.to_dict() == {
            "id": cid,
            "name": "web1",
            "image": "nginx:1.25",
            "image_id": "sha256:" + "ef" * 32,
            "created": "2026-11-26T05:00:00.123456789Z",
            "command": "nginx -g daemon off;",
        }
    assert h.plugin("gelf").metrics.counters == {}


def hostile() -> list[tuple[str, list[bytes]]]:
    """(reason, datagrams) pairs: each list makes exactly one rejection of that reason."""
    dup = zlib.compress(orjson.dumps({"short_message": "completed despite a duplicate"}))
    c0, c1 = (
        MAGIC + b"CCCCCCCC" + bytes([i, 2]) + dup[i * 30 : (i + 1) * 30 if i == 0 else None]
        for i in (0, 1)
    )
    return [
        ("bad_magic", [b"\x00\x01 not gelf"]),
        ("bad_chunk_count", [MAGIC + b"AAAAAAAA" + bytes([0, 200]) + b"x"]),
        ("bad_chunk_sequence", [MAGIC + b"BBBBBBBB" + bytes([5, 3]) + b"x"]),
        ("duplicate_chunk", [c0, c0, c1]),
        ("decompression_bomb", [zlib.compress(b"{" + b" " * (20 << 20))]),
        ("decompression_bomb", [gzip.compress(b"{" + b" " * (20 << 20))]),
        ("bad_compression", [b"\x78\x9c" + os.urandom(40)]),
        ("invalid_json", [b'{"short_message": "unterminated']),
        ("missing_field", [orjson.dumps({"host": "h", "version": "1.1"})]),
        ("incomplete", [MAGIC + b"DDDDDDDD" + bytes([1, 4]) + b"lost"]),
    ]


async def test_hostile_datagrams_are_counted_by_reason_while_good_ones_still_arrive() -> None:
    cfg, http = http_config(gelf_pipeline(**{"reassembly-timeout": "300ms"}))
    async with Harness(cfg) as h:
        port = h.plugin("gelf").address[1]
        cases = hostile()
        with udp_sender() as s:
            for i, (_, grams) in enumerate(cases):
                for g in grams:
                    s.sendto(g, ("127.0.0.1", port))
                s.sendto(orjson.dumps({"short_message": f"good {i}"}), ("127.0.0.1", port))
        await h.wait_for(lambda: len(h.captured("out")) == len(cases) + 1)
        gelf = h.plugin("gelf")
        expected: dict[str, int] = {}
        for reason, _ in cases:
            expected[reason] = expected.get(reason, 0) + 1
        await h.wait_for(
            lambda: gelf.metrics.counter("rejected", reason="incomplete") == 1,
            what="the incomplete message to expire",
        )
        text = await scrape_metrics(http)
        assert gelf.metrics.errors == 0 and gelf.metrics.state == "ok"
    assert sorted(m.message for m in h.captured("out")) == sorted(
        [*(f"good {i}" for i in range(len(cases))), "completed despite a duplicate"]
    )
    for reason, n in expected.items():
        assert metric_value(text, "qframe_rejected_total", plugin="gelf", reason=reason) == n, (
            reason
        )
    assert metric_value(text, "qframe_received_total", plugin="gelf") == len(cases) + 1


async def test_a_flood_of_partial_chunks_stays_within_the_pending_bound() -> None:
    bound = 200_000
    async with Harness(gelf_pipeline(**{"max-pending-bytes": bound})) as h:
        gelf = h.plugin("gelf")
        port = gelf.address[1]
        peak = 0
        with udp_sender() as s:
            for i in range(5000):
                s.sendto(
                    MAGIC + i.to_bytes(8, "big") + bytes([0, 9]) + b"p" * 1000, ("127.0.0.1", port)
                )
                if i % 100 == 0:
                    await asyncio.sleep(0)
                    peak = max(peak, gelf.assembler.pending_bytes)
            # UDP may lose a datagram when the machine is busy: send until it is there
            for _ in range(600):  # (up to a minute: a loaded machine reads the flood slowly)
                s.sendto(orjson.dumps({"short_message": "after the flood"}), ("127.0.0.1", port))
                try:
                    await h.wait_for(lambda: len(h.captured("out")) > 0, timeout=0.1)
                    break
                except AssertionError:
                    continue
        assert {m.message for m in h.captured("out")} == {"after the flood"}
        assert peak <= bound and gelf.assembler.pending_bytes <= bound
        assert gelf.metrics.counter("rejected", reason="pending_overflow") > 0


async def test_udp_drops_are_counted_as_queue_full_when_the_pipeline_is_full() -> None:
    n = 3000
    cfg = gelf_pipeline(handler={"delay": "200ms", "queue-size": 10})
    async with Harness(cfg) as h:
        gelf = h.plugin("gelf")
        port = gelf.address[1]
        with udp_sender() as s:
            for i in range(n):
                s.sendto(orjson.dumps({"short_message": f"m{i}"}), ("127.0.0.1", port))
                if i % 50 == 0:
                    await asyncio.sleep(0)
        # every datagram is read, or counted by the kernel as dropped (a busy machine)
        await h.wait_for(
            lambda: gelf.metrics.received + (udp_kernel_drops(port) or 0) == n,
            what="every datagram read",
        )
        received = gelf.metrics.received

        def dropped() -> int:  # the last batch may still be flushed (or dropped) after reading
            return int(gelf.metrics.dropped.get("queue_full", 0))

        await h.wait_for(lambda: len(h.captured("out")) + dropped() == received, timeout=30)
    assert dropped() > 0


async def test_the_inventory_adds_its_record_by_container_id_or_by_sender_ip() -> None:
    web = container("web1", "10.88.0.99")
    local = container("local", "127.0.0.1")
    cfg = with_inventory(
        {"kind": "gelf", "bind-host": "127.0.0.1", "port": 0, "inventory": "inventory",
         "inventory-timeout-ms": 300},
        name="gelf",
    )  # fmt: skip
    async with Harness(cfg) as h:
        await teach_inventory(h, web, local)
        port = h.plugin("gelf").address[1]
        with udp_sender() as s:
            for g in docker_datagrams(docker_payload(web.id, "/web1", "by id")):
                s.sendto(g, ("127.0.0.1", port))
            s.sendto(orjson.dumps({"short_message": "by ip"}), ("127.0.0.1", port))
            unknown = docker_payload("f" * 64, "/ghost", "unknown id")
            s.sendto(orjson.dumps(unknown), ("127.0.0.1", port))
        await h.wait_for(lambda: len(h.captured("out")) == 3)
    got = {m.message: m for m in h.captured("out")}
    assert got["by id"].container == web  # the inventory's record, labels and ips included
    assert got["by ip"].container == local
    ghost = got["unknown id"].container
    assert ghost is not None and ghost.id == "f" * 64 and ghost.name == "ghost"


async def test_graypy_and_pygelf_over_tls_arrive_and_a_client_without_a_certificate_does_not(
    pylogger: logging.Logger, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    ca = str(pki / "ca.pem")
    tls = {"tls-cert": str(pki / "server.pem"), "tls-key": str(pki / "server.key")}
    async with Harness(gelf_pipeline("tcp", **tls, **{"tls-client-ca": ca})) as h:
        port = h.plugin("gelf").address[1]
        mine = {"certfile": str(pki / "client.pem"), "keyfile": str(pki / "client.key")}
        gray = graypy.GELFTLSHandler("127.0.0.1", port, validate=True, ca_certs=ca, **mine)
        gray.addFilter(lambda r: setattr(r, "client", "graypy") or True)
        pyg = pygelf.GelfTlsHandler(
            host="127.0.0.1", port=port, validate=True, ca_certs=ca, include_extra_fields=True,
            **mine,
        )  # fmt: skip
        pyg.addFilter(lambda r: setattr(r, "client", "pygelf") or True)
        pylogger.addHandler(gray)
        pylogger.addHandler(pyg)
        for i in range(20):
            await asyncio.to_thread(pylogger.warning, "secret %d", i, extra={"k": i})
        anonymous = ssl.create_default_context(cafile=ca)
        try:  # refused during the handshake, or its first read fails
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=anonymous)
            w.write(orjson.dumps({"short_message": "anonymous", "_client": "raw"}) + b"\0")
            await w.drain()
            assert await asyncio.wait_for(r.read(), 10) == b""
        except (ssl.SSLError, ConnectionError):
            pass
        await h.wait_for(lambda: len(h.captured("out")) == 40, what="40 messages over TLS")
    got = by_client(h)
    assert sorted(got) == ["graypy", "pygelf"]
    for client in ("graypy", "pygelf"):
        assert [m.message for m in got[client]] == [f"secret {i}" for i in range(20)]
        assert [m.fields["k"] for m in got[client]] == list(range(20))


def test_tls_options_need_gelf_over_tcp() -> None:
    with pytest.raises(ValidationError, match="tls-cert needs protocol: tcp"):
        GelfCollector.Options.model_validate({"tls-cert": "/c.pem"})
    with pytest.raises(ValidationError, match="need tls-cert"):
        GelfCollector.Options.model_validate({"protocol": "tcp", "tls-client-ca": "/ca.pem"})


async def test_gelf_over_tcp_gets_the_senders_container_from_the_inventory() -> None:
    local = container("local", "127.0.0.1")
    cfg = with_inventory(
        {"kind": "gelf", "bind-host": "127.0.0.1", "port": 0, "protocol": "tcp",
         "inventory": "inventory", "inventory-timeout-ms": 300},
        name="gelf",
    )  # fmt: skip
    async with Harness(cfg) as h:
        await teach_inventory(h, local)
        port = h.plugin("gelf").address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        for i in range(3):
            w.write(orjson.dumps({"short_message": f"tcp {i}", "host": "h"}) + b"\0")
        await w.drain()
        w.close()
        await h.wait_for(lambda: len(h.captured("out")) == 3)
    assert [m.message for m in h.captured("out")] == ["tcp 0", "tcp 1", "tcp 2"]
    assert all(m.container == local for m in h.captured("out"))


async def test_an_oversized_tcp_frame_is_rejected_and_the_connection_goes_on() -> None:
    async with Harness(gelf_pipeline("tcp", **{"max-message-bytes": 1000})) as h:
        gelf = h.plugin("gelf")
        port = gelf.address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(orjson.dumps({"short_message": "before"}) + b"\0")
        w.write(orjson.dumps({"short_message": "y" * 50_000}) + b"\0")
        w.write(b"garbage\0\0" + orjson.dumps({"short_message": "after"}) + b"\0")
        await w.drain()
        w.close()
        await h.wait_for(lambda: len(h.captured("out")) == 2)
        await h.wait_for(lambda: gelf.metrics.counter("rejected", reason="bad_magic") == 1)
    assert [m.message for m in h.captured("out")] == ["before", "after"]
    assert gelf.metrics.counter("rejected", reason="oversized") == 1


def test_a_port_in_use_is_a_startup_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        from qframe.errors import StartupError

        async def start() -> None:
            async with Harness(gelf_pipeline(port=port)):
                pass

        with pytest.raises(StartupError):
            asyncio.run(start())
