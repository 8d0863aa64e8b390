"""log: writes messages to stdout or a file, as text or canonical JSON lines."""

from __future__ import annotations

import os
import sys
from typing import Any, BinaryIO, Literal

from ...batch import json_lines
from ...message import Message, format_time
from ...options import Field, PluginOptions
from ...plugin import Handler

_LEVELS = ("EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG")


class LogHandler(Handler):
    """Writes every message it receives, one line each.

    - ``format: json``: the canonical JSON of the message (docs/architecture.md), one object per line.
    - ``format: text``: ``<time> [<LEVEL>] <source_path> <container name>: <message>``,
      with metric points as ``measurement field=value …``.

    ``path: "-"`` writes to standard output; a file path appends to that file (created
    with its directories).  Each batch is written and flushed before it is acknowledged.
    """

    class Options(PluginOptions):
        format: Literal["text", "json"] = Field(
            "text", description="text or json (canonical JSON lines)"
        )
        path: str = Field("-", description='"-" for standard output, else a file to append to')

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._out: BinaryIO | None = None
        self._own = False

    async def start(self) -> None:
        path = self.options.path
        if path == "-":
            self._out = sys.stdout.buffer
        else:
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            self._out = open(path, "ab", buffering=1 << 20)
            self._own = True

    async def stop(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                out.flush()
            finally:
                if self._own:
                    out.close()

    async def handle(self, batch: list[Message]) -> None:
        out = self._out
        if out is None:
            await self.start()
            out = self._out
            assert out is not None
        if self.options.format == "json":
            data = json_lines(batch)
        else:
            parts = [self._text(m).encode("utf-8", "replace") for m in batch]
            parts.append(b"")
            data = b"\n".join(parts)
        out.write(data)
        out.flush()

    @staticmethod
    def _text(m: Message) -> str:
        lvl = _LEVELS[m.level] if 0 <= m.level < len(_LEVELS) else str(m.level)
        who = m.container.name if m.container is not None else ""
        head = f"{format_time(m.time)} [{lvl}] {'>'.join(m.source_path)}"
        if who:
            head += f" {who}"
        if m.metric is not None:
            body = m.metric.name + " " + " ".join(f"{k}={v}" for k, v in m.metric.fields.items())
            if m.labels:
                body += " " + ",".join(f"{k}={v}" for k, v in m.labels.items())
            return f"{head}: {body}"
        text = m.message
        if m.tags:
            text += f" tags={','.join(m.tags)}"
        return f"{head}: {text}"
