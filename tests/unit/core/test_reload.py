"""SIGHUP reloads (issue #21, defect 2), in process: a collector whose options did not change
keeps running and what it emitted before the reload is delivered and acknowledged; a tcp or
gelf collector whose options changed hands its socket and connections (an unfinished line
too) to its successor; a reload that fails to start gives them back to the old config."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from qframe.runtime.daemon import ConfigSource, Daemon
from qframe.testing import make_registry, wait_until


@asynccontextmanager
async def daemon(tmp_path: Path, config: dict[str, Any]) -> AsyncIterator[Daemon]:
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(yaml.safe_dump({"data-dir": str(tmp_path / "data"), **config}))
    registry = make_registry()
    qlog = logging.getLogger("qframe")
    level = qlog.level  # a reload sets the daemon's log level: given back at the end
    source = ConfigSource(str(cfg))
    d = Daemon(source, registry)
    run = asyncio.ensure_future(d.run(source.load(registry)))
    try:
        await wait_until(lambda: started(d), timeout=60, what="the pipeline to start")
        yield d
    finally:
        d.request_stop()
        code = await asyncio.wait_for(run, 30)
        qlog.setLevel(level)
        assert code == 0


def started(d: Daemon) -> bool:
    p = d.pipeline
    return p is not None and all(n.plugin.metrics.state == "ok" for n in p.nodes.values())


async def reload(d: Daemon, tmp_path: Path, config: dict[str, Any]) -> None:
    before = d.pipeline
    (tmp_path / "qframe.yml").write_text(
        yaml.safe_dump({"data-dir": str(tmp_path / "data"), **config})
    )
    d.request_reload()
    await wait_until(lambda: d.pipeline is not before and started(d), timeout=60, what="the reload")


def plugin(d: Daemon, name: str) -> Any:
    assert d.pipeline is not None
    node = d.pipeline.find(name)
    assert node is not None
    return node.plugin


async def test_an_unchanged_collector_keeps_running_and_its_earlier_messages_are_acknowledged(
    tmp_path: Path,
) -> None:
    def config(delay: str) -> dict[str, Any]:
        return {
            "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
            "handler": {"out": {"kind": "capture", "inputs": ["src"], "delay": delay}},
        }

    async with daemon(tmp_path, config("20ms")) as d:
        src = plugin(d, "src")
        old_out = plugin(d, "out")
        from qframe.message import Message

        for b in range(20):
            await src.send([Message(f"m{b}-{i}") for i in range(50)])
        await wait_until(lambda: len(old_out.messages) > 0, timeout=60, what="the first batch")
        # the old handler is slow: much is still queued when the reload comes
        await reload(d, tmp_path, config("0s"))
        assert plugin(d, "src") is src  # the same instance, still running
        new_out = plugin(d, "out")
        assert new_out is not old_out
        for b in range(20, 30):
            await src.send([Message(f"m{b}-{i}") for i in range(50)])
        await wait_until(lambda: src.acked == 1500, timeout=60, what="every message acknowledged")
        got = [m.message for m in old_out.messages + new_out.messages]
        assert got == [f"m{b}-{i}" for b in range(30) for i in range(50)]  # once, in order
        assert len(old_out.messages) >= 1000  # all emitted before the reload drained there


def net_config(kind: str, **opts: Any) -> dict[str, Any]:
    port_key = "bind-port" if kind == "tcp" else "port"
    extra = {"protocol": "tcp"} if kind == "gelf" else {}
    return {
        "collector": {
            "net": {"kind": kind, "bind-host": "127.0.0.1", port_key: 0, **extra, **opts}
        },
        "handler": {"out": {"kind": "capture", "inputs": ["net"]}},
    }


FRAMES = {
    "tcp": (b"first\nhel", b"lo\n", "hello"),
    "gelf": (
        b'{"short_message":"first"}\0{"short_mess',
        b'age":"hello"}\0',
        "hello",
    ),
}


@pytest.mark.parametrize("kind", ["tcp", "gelf"])
async def test_changed_options_hand_the_socket_and_an_unfinished_line_to_the_successor(
    tmp_path: Path, kind: str
) -> None:
    head, tail, whole = FRAMES[kind]
    async with daemon(tmp_path, net_config(kind)) as d:
        old = plugin(d, "net")
        port = old.address[1]
        _, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(head)
        await w.drain()
        old_out = plugin(d, "out")
        await wait_until(lambda: len(old_out.messages) == 1, timeout=60, what="the first message")
        await reload(d, tmp_path, net_config(kind, **{"idle-timeout": "1h"}))
        new = plugin(d, "net")
        assert new is not old and new.address[1] == port  # the same socket (port 0 kept)
        w.write(tail)  # the rest of the line, over the same connection
        await w.drain()
        new_out = plugin(d, "out")
        await wait_until(
            lambda: len(new_out.messages) == 1, timeout=60, what="the line across the reload"
        )
        assert new_out.messages[0].message == whole
        assert old_out.messages[0].message == "first"
        m = new.metrics
        assert m.counter("connections") == 1  # accepted once, served by both
        assert m.counter("closed_connections", reason="reload") == 0
        # a new connection to the same port is served by the successor
        _, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(b'{"short_message":"second"}\0' if kind == "gelf" else b"second\n")
        await w2.drain()
        await wait_until(lambda: len(new_out.messages) == 2, timeout=60, what="a new connection")
        w.close()
        w2.close()


async def test_gelf_udp_keeps_its_port_and_socket_across_a_reload(tmp_path: Path) -> None:
    def config(**opts: Any) -> dict[str, Any]:
        return {
            "collector": {"net": {"kind": "gelf", "bind-host": "127.0.0.1", "port": 0, **opts}},
            "handler": {"out": {"kind": "capture", "inputs": ["net"]}},
        }

    async with daemon(tmp_path, config()) as d:
        port = plugin(d, "net").address[1]
        await reload(d, tmp_path, config(**{"udp-buffer": "4MiB"}))
        assert plugin(d, "net").address[1] == port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b'{"short_message":"after"}', ("127.0.0.1", port))
        out = plugin(d, "out")
        await wait_until(
            lambda: [m.message for m in out.messages] == ["after"], timeout=60, what="it"
        )


async def test_a_reload_that_fails_to_start_gives_the_connections_back(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    taken = busy.getsockname()[1]
    try:
        async with daemon(tmp_path, net_config("tcp")) as d:
            old = plugin(d, "net")
            port = old.address[1]
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"one\npart")
            await w.drain()
            await wait_until(lambda: len(plugin(d, "out").messages) == 1, timeout=60, what="one")
            bad = net_config("tcp", **{"max-line-bytes": "4KiB"})
            # started before net (the last collector starts first): it fails on a busy port
            bad["collector"]["blocked"] = {
                "kind": "tcp",
                "bind-host": "127.0.0.1",
                "bind-port": taken,
            }
            bad["handler"]["out"]["inputs"] = ["net", "blocked"]
            await reload(d, tmp_path, bad)
            assert d.pipeline is not None and d.pipeline.find("blocked") is None  # old config
            again = plugin(d, "net")
            assert again.address[1] == port
            w.write(b"ial\n")
            await w.drain()
            out = plugin(d, "out")
            await wait_until(
                lambda: [m.message for m in out.messages] == ["partial"], timeout=60, what="it"
            )
            w.close()
    finally:
        busy.close()


async def test_a_kept_tls_collector_serves_a_renewed_certificate_after_a_reload(
    tmp_path: Path,
) -> None:
    import shutil
    import ssl

    from tests.services.pki import make_pki

    first, second, live = (tmp_path / n for n in ("first", "second", "live"))
    for d in (first, second, live):
        d.mkdir()
    make_pki(first)
    make_pki(second)
    for f in ("server.pem", "server.key"):
        shutil.copy(first / f, live / f)
    config = net_config(
        "tcp", **{"tls-cert": str(live / "server.pem"), "tls-key": str(live / "server.key")}
    )

    def client(ca: Path) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(ca / "ca.pem"))
        ctx.check_hostname = False
        return ctx

    async with daemon(tmp_path, config) as d:
        tcp = plugin(d, "net")
        port = tcp.address[1]
        _, w1 = await asyncio.open_connection("127.0.0.1", port, ssl=client(first))
        for f in ("server.pem", "server.key"):  # renewed on disk
            shutil.copy(second / f, live / f)
        await reload(d, tmp_path, config)
        assert plugin(d, "net") is tcp  # kept running
        _, w2 = await asyncio.open_connection("127.0.0.1", port, ssl=client(second))
        w1.write(b"old\n")
        w2.write(b"new\n")
        await asyncio.gather(w1.drain(), w2.drain())
        out = plugin(d, "out")
        await wait_until(lambda: len(out.messages) == 2, timeout=60, what="both connections' lines")
        assert sorted(m.message for m in out.messages) == ["new", "old"]
        w1.close()
        w2.close()


async def test_a_kept_file_collector_goes_on_and_its_checkpoint_stays_right(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"a{i}\n" for i in range(100)))

    def config(queue_size: int) -> dict[str, Any]:
        return {
            "collector": {
                "files": {
                    "kind": "file",
                    "path": [str(log)],
                    "start-position": "beginning",
                    "poll-interval": "50ms",
                    "scan-interval": "200ms",
                }
            },
            "handler": {"out": {"kind": "capture", "inputs": ["files"], "queue-size": queue_size}},
        }

    seen: list[str] = []
    async with daemon(tmp_path, config(1000)) as d:
        files = plugin(d, "files")
        out = plugin(d, "out")
        await wait_until(lambda: len(out.messages) == 100, timeout=60, what="the first 100 lines")
        seen += [m.message for m in out.messages]
        await reload(d, tmp_path, config(500))
        assert plugin(d, "files") is files
        with log.open("a") as f:
            f.write("".join(f"b{i}\n" for i in range(100)))
        out = plugin(d, "out")
        await wait_until(
            lambda: len(out.messages) == 100, timeout=60, what="the lines after the reload"
        )
        seen += [m.message for m in out.messages]
    # a restart resumes from the checkpoint: nothing again, the new lines only
    with log.open("a") as f:
        f.write("c0\n")
    async with daemon(tmp_path, config(1000)) as d:
        out = plugin(d, "out")
        await wait_until(
            lambda: len(out.messages) >= 1, timeout=60, what="the line written while down"
        )
    seen += [m.message for m in out.messages]  # all it got, until it stopped
    assert seen == [f"a{i}" for i in range(100)] + [f"b{i}" for i in range(100)] + ["c0"]


async def test_a_tls_connection_is_handed_over_with_its_session(tmp_path: Path) -> None:
    import ssl

    from tests.services.pki import make_pki

    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    tls = {"tls-cert": str(pki / "server.pem"), "tls-key": str(pki / "server.key")}
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    ctx.check_hostname = False
    async with daemon(tmp_path, net_config("tcp", **tls)) as d:
        old = plugin(d, "net")
        _, w = await asyncio.open_connection("127.0.0.1", old.address[1], ssl=ctx)
        w.write(b"first\nhel")
        await w.drain()
        await wait_until(
            lambda: len(plugin(d, "out").messages) == 1, timeout=60, what="the first line"
        )
        await reload(d, tmp_path, net_config("tcp", **tls, **{"max-line-bytes": "64KiB"}))
        assert plugin(d, "net") is not old
        w.write(b"lo\n")  # the same TLS session, now served by the successor
        await w.drain()
        out = plugin(d, "out")
        await wait_until(
            lambda: [m.message for m in out.messages] == ["hello"], timeout=60, what="hello"
        )
        w.close()
