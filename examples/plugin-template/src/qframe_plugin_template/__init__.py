"""An example qframe plugin package: one filter and one collector."""

from __future__ import annotations

import asyncio
import re

from qframe import Collector, Duration, Field, Filter, Message, PluginOptions

__all__ = ["CounterCollector", "UppercaseFilter"]


class UppercaseFilter(Filter):
    """Upper-cases the ``message`` of every message (or only of those matching a regex).

    Example output (``log`` json): ``{"message": "HELLO", "fields": {"uppercased": true}, …}``
    """

    class Options(PluginOptions):
        only_matching: str = Field(
            "", description="a regex; when set, only matching messages change"
        )

    async def start(self) -> None:
        self._re = re.compile(self.options.only_matching) if self.options.only_matching else None

    def process_one(self, msg: Message) -> Message:
        if self._re is None or self._re.search(msg.message):
            msg.message = msg.message.upper()
            msg.fields["uppercased"] = True
        return msg


class CounterCollector(Collector):
    """Emits ``count`` messages ``"tick N"`` every ``interval``, then ends."""

    class Options(PluginOptions):
        count: int = Field(3, ge=0, description="messages to emit")
        interval: Duration = Field("10ms", description="pause between messages")

    async def run(self) -> None:
        for i in range(self.options.count):
            await self.emit([Message(f"tick {i}", fields={"n": i})])
            await asyncio.sleep(self.options.interval)
