"""Ten SIGKILLs at random moments while lines flow and Elasticsearch flaps (a cut proxy):
every line that was in the disk buffer at any kill reaches Elasticsearch, and once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import orjson

from qframe.buffer.queue import unpack_items
from qframe.buffer.segment import Record
from qframe.buffer.store import DiskStore
from qframe.testing import wait_until
from tests.services.osmem import Osmem
from tests.services.tcpproxy import TcpProxy

from .helpers import BufferedRun, os_lines


def lines_on_disk(path: Path) -> set[str]:
    """The messages of the unconfirmed records in a stopped qframe's buffer."""
    store = DiskStore(path)
    store.open()
    cur = store.reader()
    out = set()
    try:
        while (r := cur.next()) is not None:
            if isinstance(r, Record):
                for item in unpack_items(r.payload):
                    doc = orjson.loads(item.split(b"\n", 2)[1])
                    out.add(doc["message"])
    finally:
        cur.close()
        store.close(persist=False)
    return out


async def sender(port: int, state: dict[str, int]) -> None:
    """Lines ``line <n>`` in chunks of 50, reconnecting whenever qframe is gone."""
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            while True:
                n = state["next"]
                w.write(b"".join(f"line {i}\n".encode() for i in range(n, n + 50)))
                state["next"] = n + 50
                await w.drain()
                await asyncio.sleep(0.02)
        except OSError:
            pass
        finally:
            w.close()
            with contextlib.suppress(OSError):
                await w.wait_closed()


async def test_kill_loop_while_the_destination_flaps(tmp_path: Path) -> None:
    rnd = random.Random(13)
    server = Osmem.start()
    proxy = await TcpProxy.start(server.port)
    run = BufferedRun(tmp_path, {"kind": "elasticsearch", "url": f"http://127.0.0.1:{proxy.port}"})
    buffer = run.data / "handler.out" / "buffer"
    state = {"next": 0}
    task = None
    accepted: set[str] = set()
    try:
        run.start()
        await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        task = asyncio.ensure_future(sender(run.tcp_port, state))
        for _ in range(10):
            await asyncio.sleep(rnd.uniform(0.2, 1.5))
            if rnd.random() < 0.5:
                await (proxy.restore() if proxy.is_cut else proxy.cut())
            run.kill()
            accepted |= lines_on_disk(buffer)
            run.start()
            await wait_until(lambda: bool(run.out_health()), timeout=60, what="qframe up")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await proxy.restore()
        await wait_until(
            lambda: (
                run.metric("qframe_disk_buffer_events") == 0 and run.metric("qframe_pending") == 0
            ),
            timeout=120,
            what="the buffer drained",
        )
        got, total = await asyncio.to_thread(os_lines, server)
        assert len(accepted) > 1000  # the kills found work in the buffer
        assert accepted <= set(got), f"{len(accepted - set(got))} accepted lines lost"
        assert total == len(got) and set(got.values()) == {1}, "a line twice"
        assert run.metric("qframe_disk_buffer_corrupt_total") == 0
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        code = run.stop()
        await proxy.close()
        server.stop()
    assert code == 0, run.stderr()[-3000:]
