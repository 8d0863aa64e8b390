"""Small plugins used by the core tests."""

from __future__ import annotations

import asyncio
from typing import Any

from qframe import Collector, Field, Filter, Message, PluginOptions
from qframe.testing import ListCollector


class EvenFilter(Filter):
    """source_success = whether the message text is an even number."""

    sets_source_success = True

    def process_one(self, msg: Message) -> Message:
        msg.source_success = int(msg.message) % 2 == 0
        return msg


class DropOddFilter(Filter):
    def process_one(self, msg: Message) -> Message | None:
        return msg if int(msg.message) % 2 == 0 else None


class TagFilter(Filter):
    class Options(PluginOptions):
        tag: str = Field("t", description="tag to add")

    def process_one(self, msg: Message) -> Message:
        msg.add_tag(self.options.tag)
        msg.fields["seen_by"] = self.name
        return msg


class EchoResponder(Filter):
    """Answers requests: 'now:X' at once, 'later:X' on the next tick, 'never' never."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.pending: list[tuple[str, asyncio.Future[Any]]] = []

    def on_request(self, request: Any, reply: asyncio.Future[Any]) -> None:
        kind, _, value = str(request).partition(":")
        if kind == "now":
            reply.set_result(value.upper())
        elif kind == "later":
            self.pending.append((value, reply))

    async def on_tick(self) -> None:
        for value, fut in self.pending:
            if not fut.done():
                fut.set_result(value.upper())
        self.pending.clear()


class FlakyCollector(Collector):
    """Raises on its first ``fail`` runs, then emits ``count`` messages and ends."""

    class Options(PluginOptions):
        fail: int = Field(1, description="runs that raise")
        count: int = Field(3, description="messages after recovery")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.options.fail:
            raise RuntimeError(f"boom {self.runs}")
        await self.emit([Message(f"flaky {i}") for i in range(self.options.count)])


class ExplodingFilter(Filter):
    def process_one(self, msg: Message) -> Message:
        if msg.message == "bad":
            raise ValueError("cannot digest 'bad'")
        return msg


class FastCollector(ListCollector):
    """A list collector that records the deepest queue it saw downstream."""


EXTRA: dict[tuple[str, str], type] = {
    ("filter", "even"): EvenFilter,
    ("filter", "drop-odd"): DropOddFilter,
    ("filter", "tag"): TagFilter,
    ("filter", "echo"): EchoResponder,
    ("collector", "flaky"): FlakyCollector,
    ("filter", "exploding"): ExplodingFilter,
}
