"""drop: drops (and acknowledges) what reaches it, or keeps one in N."""

from __future__ import annotations

from typing import Any

from ...message import Message
from ...options import Field, PluginOptions
from ...plugin import Filter


class DropFilter(Filter):
    """Drops every message that reaches it (acknowledged, counted as dropped ``filtered``).

    With ``keep-one-in: N`` one message in N goes on (a sample: the 1st, the N+1th, …).
    Usually with ``when``: ``{kind: drop, inputs: [app], when: 'fields.level == "debug"'}``
    drops the debug lines and passes the others by.
    """

    class Options(PluginOptions):
        keep_one_in: int = Field(0, ge=0, description="keep one message in N (0: keep none)")

    @classmethod
    def workers_refusal(cls, options: PluginOptions) -> str:
        if getattr(options, "keep_one_in", 0) > 1:
            return "keep-one-in counts messages across batches: one process must count them"
        return ""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._n = 0

    async def process(self, batch: list[Message]) -> list[Message]:
        n = self.options.keep_one_in
        if n <= 1:
            if n == 1:
                return batch
            self.drop(batch, "filtered")
            return []
        keep: list[Message] = []
        gone: list[Message] = []
        i = self._n
        for m in batch:
            (keep if i % n == 0 else gone).append(m)
            i += 1
        self._n = i % n
        if gone:
            self.drop(gone, "filtered")
        return keep
