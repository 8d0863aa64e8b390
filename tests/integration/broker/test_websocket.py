"""nats-py is loaded without aiohttp (start-up cost); a ws:// URL still works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from qframe.message import Message
from qframe.testing import Harness
from tests.integration.broker.helpers import loop
from tests.services import free_port
from tests.services.nats import NatsServer


def test_the_nats_plugins_do_not_load_aiohttp() -> None:
    code = (
        "import sys, qframe.cli, qframe.plugins.handlers.nats, qframe.plugins.collectors.nats\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp loaded'\n"
        "import aiohttp, qframe.plugins.common.delivery  # and it loads normally after\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_messages_over_a_websocket_url(tmp_path: Path) -> None:
    ws = free_port()
    server = NatsServer.start(extra=f'websocket {{ listen: "127.0.0.1:{ws}", no_tls: true }}')
    try:
        url = f"ws://127.0.0.1:{ws}"
        config = loop(url, tmp_path / "data", "WS")
        async with Harness(config) as h:
            await h.plugin("src").send([Message(f"over ws {i}") for i in range(5)])
            await h.wait_for(lambda: len(h.captured("cap")) == 5, timeout=30, what="carried")
        assert sorted(h.texts("cap")) == [f"over ws {i}" for i in range(5)]
    finally:
        server.close()
