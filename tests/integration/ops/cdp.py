"""A headless Chromium driven over the DevTools protocol (aiohttp's websocket client): for
what ``--dump-dom`` cannot do, such as typing into a form and reloading a page."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Browser"]


class Browser:
    """``async with Browser(chromium, profile) as b:`` a page to navigate and evaluate in."""

    def __init__(self, chromium: str, profile: Path, flags: list[str]) -> None:
        self.cmd = [
            chromium,
            *flags,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            "about:blank",
        ]
        self.profile = profile
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)

    async def __aenter__(self) -> Browser:
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.returncode is None, "chromium exited"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self.http = aiohttp.ClientSession()
        async with self.http.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json() if t["type"] == "page"]
        self.ws = await self.http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        n = next(self.ids)
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 60)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = json.loads(msg.data)
            if data.get("id") == n:
                assert "error" not in data, data
                return dict(data["result"])

    async def eval(self, expression: str) -> Any:
        res = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in res, res
        return res["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60, what: str = "") -> Any:
        """Evaluate until the value is truthy (the page's own scripts run meanwhile)."""
        deadline = time.monotonic() + timeout
        while not (value := await self.eval(expression)):
            assert time.monotonic() < deadline, f"timed out waiting for {what or expression}"
            await asyncio.sleep(0.1)
        return value
