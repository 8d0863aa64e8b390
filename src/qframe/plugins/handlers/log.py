"""log: writes messages to stdout or a file, as text or canonical JSON lines."""

from __future__ import annotations

import os
import sys
from typing import Any, BinaryIO, Literal

from ...batch import json_lines
from ...jsonsafe import ENCODE_FAILURE_TAG, encode_each
from ...message import Message, format_time
from ...options import Field, PluginOptions
from ...plugin import Handler
from ...telemetry import MetricSpec

_LEVELS = ("EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG")


class LogHandler(Handler):
    """Writes every message it receives, one line each.

    - ``format: json``: the canonical JSON of the message (docs/architecture.md), one object per line.
    - ``format: text``: ``<time> [<LEVEL>] <source_path> <container name>: <message>``,
      with metric points as ``measurement field=value …``.

    ``path: "-"`` writes to standard output; a file path appends to that file (created
    with its directories).  Each batch is written and flushed before it is acknowledged.

    A message that cannot be encoded (nested past what JSON encoding takes, an integer
    past 64 bits, a lone surrogate) is left out alone: tagged ``_encodefailure``, counted
    (``qframe_unencodable_total``, and dropped with reason ``unencodable``), logged and
    acknowledged; the rest of its batch is written.
    """

    exported_metrics = (
        MetricSpec("unencodable", "counter", "messages that could not be encoded (left out)"),
    )

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
        try:
            if self.options.format == "json":
                data = json_lines(batch)
            else:
                parts = [self._text(m).encode("utf-8", "replace") for m in batch]
                parts.append(b"")
                data = b"\n".join(parts)
        except Exception:
            data = self._isolate(batch)
        out.write(data)
        out.flush()

    def _isolate(self, batch: list[Message]) -> bytes:
        """The batch encoded message by message: the ones that fail are left out."""
        if self.options.format == "json":
            good, bad = encode_each(batch, lambda m: json_lines([m]))
        else:
            good, bad = encode_each(
                batch, lambda m: self._text(m).encode("utf-8", "replace") + b"\n"
            )
        for m, _ in bad:
            m.add_tag(ENCODE_FAILURE_TAG)
        self.metrics.inc("unencodable", len(bad))
        self.metrics.drop("unencodable", len(bad))  # acknowledged with the batch
        self.warn_limited(
            "unencodable",
            "%d message(s) could not be encoded and were left out (first: %r)",
            len(bad),
            bad[0][1],
        )
        return b"".join(good)

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
