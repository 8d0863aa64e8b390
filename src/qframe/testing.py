"""Helpers for testing pipelines and plugins (qframe's own tests and plugin packages).

::

    from qframe.testing import Harness, wait_until

    async def test_my_filter():
        config = {
            "collector": {"src": {"kind": "list", "messages": ["a", "b"]}},
            "filter": {"f": {"kind": "my-filter", "inputs": ["src"]}},
            "handler": {"out": {"kind": "capture", "inputs": ["f"]}},
        }
        async with Harness(config) as h:
            await h.wait_for(lambda: len(h.captured("out")) == 2)
        assert [m.message for m in h.captured("out")] == ["a", "b"]

``list`` (collector) and ``capture`` (handler) are registered in every Harness.
:meth:`Harness.texts` gives the texts a ``capture`` handler collected;
:func:`scrape_metrics` (a pipeline in this event loop) and :func:`read_metrics` (a daemon
in another process) read ``/metrics``, :func:`metric_value` one value of it.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp
import yaml

from .config import PipelineSpec, parse_config
from .message import Delivery, Message
from .options import Duration, Field, PluginOptions
from .plugin import Collector, Handler, Plugin
from .registry import Registry
from .runtime.pipeline import Pipeline

__all__ = [
    "CaptureHandler",
    "Harness",
    "ListCollector",
    "make_registry",
    "metric_value",
    "read_metrics",
    "scrape_metrics",
    "wait_until",
]


async def wait_until(
    pred: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> None:
    """Await a condition (never a bare sleep); raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        await asyncio.sleep(interval)


class ListCollector(Collector):
    """Emits the configured messages (strings or canonical-JSON dicts), then ends.

    With ``ack: true`` every batch carries a delivery token and ``acked`` counts the
    messages whose delivery completed.  With ``linger: true`` it stays running.
    """

    class Options(PluginOptions):
        messages: list[Any] = Field(default_factory=list, description="strings or message dicts")
        batch_size: int = Field(1000, ge=1, description="messages per emitted batch")
        ack: bool = Field(False, description="attach delivery tokens and count acknowledgements")
        linger: bool = Field(False, description="keep running after the last message")
        delay: Duration = Field(0.0, description="pause between batches")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.acked = 0
        self.sent = 0
        self.extra: asyncio.Queue[list[Message]] = asyncio.Queue()

    def _count(self, n: int) -> Callable[[], None]:
        def cb() -> None:
            self.acked += n

        return cb

    async def send(self, batch: list[Message]) -> None:
        """Emit more messages from a test while the pipeline runs (needs ``linger: true``)."""
        await self.extra.put(batch)

    async def run(self) -> None:
        msgs = [
            Message(m) if isinstance(m, str) else Message.from_dict(m)
            for m in self.options.messages
        ]
        for i in range(0, len(msgs), self.options.batch_size):
            batch = msgs[i : i + self.options.batch_size]
            await self._emit(batch)
            if self.options.delay:
                await asyncio.sleep(self.options.delay)
        while self.options.linger:
            await self._emit(await self.extra.get())

    async def _emit(self, batch: list[Message]) -> None:
        if self.options.ack:
            d = Delivery(len(batch), self._count(len(batch)))
            for m in batch:
                m.ack = d
        self.sent += len(batch)
        await self.emit(batch)


class CaptureHandler(Handler):
    """Keeps every message it receives in ``messages`` (optionally slowly)."""

    class Options(PluginOptions):
        delay: Duration = Field(0.0, description="time taken per batch (a slow destination)")
        fail_times: int = Field(0, description="raise on the first N batches")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.messages: list[Message] = []
        self.batches = 0
        self.ticks = 0
        self.failures = 0

    async def handle(self, batch: list[Message]) -> None:
        if self.failures < self.options.fail_times:
            self.failures += 1
            raise RuntimeError(f"capture failure {self.failures}")
        if self.options.delay:
            await asyncio.sleep(self.options.delay)
        self.batches += 1
        self.messages.extend(batch)

    async def on_tick(self) -> None:
        self.ticks += 1


def make_registry(extra: dict[tuple[str, str], type[Plugin]] | None = None) -> Registry:
    reg = Registry.discover()
    reg.add("collector", "list", ListCollector)
    reg.add("handler", "capture", CaptureHandler)
    for (t, k), c in (extra or {}).items():
        reg.add(t, k, c)
    return reg


class Harness:
    """Runs a pipeline from a config dict (or YAML text) inside the test's event loop."""

    def __init__(
        self,
        config: dict[str, Any] | str,
        extra: dict[tuple[str, str], type[Plugin]] | None = None,
        registry: Registry | None = None,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self.registry = registry or make_registry(extra)
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        self.spec: PipelineSpec = parse_config(text, self.registry, file="<test>")
        self.spec.shutdown_timeout = shutdown_timeout
        self.pipeline = Pipeline(self.spec, self.registry.plugins)

    async def __aenter__(self) -> Harness:
        await self.pipeline.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.pipeline.done.is_set():
            await self.pipeline.shutdown()

    def plugin(self, name: str) -> Any:
        node = self.pipeline.find(name)
        if node is None:
            raise KeyError(name)
        return node.plugin

    def captured(self, name: str) -> list[Message]:
        """The messages the ``capture`` handler ``name`` collected so far."""
        return self.plugin(name).messages  # type: ignore[no-any-return]

    def texts(self, name: str = "out") -> list[str]:
        """The texts of :meth:`captured`."""
        return [m.message for m in self.captured(name)]

    async def wait_for(
        self, pred: Callable[[], bool], timeout: float = 10.0, what: str = ""
    ) -> None:
        await wait_until(pred, timeout, what=what)

    async def run_to_completion(self, timeout: float = 30.0) -> None:
        """Wait until every collector ended and everything drained."""
        await asyncio.wait_for(self.pipeline.wait(), timeout)


async def scrape_metrics(port: int, host: str = "127.0.0.1") -> str:
    """``/metrics`` of the ``http`` server on ``port``, served in this event loop (a Harness)."""
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"http://{host}:{port}/metrics") as r,
    ):
        assert r.status == 200, f"/metrics answered {r.status}"
        return await r.text()


def read_metrics(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> str:
    """``/metrics`` of a daemon in another process; "" while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=timeout) as r:
            return str(r.read().decode())
    except OSError:
        return ""


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(_LABEL.findall(line[: line.rindex("}")]))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
