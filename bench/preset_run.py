"""``qframe run`` with one bench-only filter more, ``preset``: the floor of a parser pipeline.

``preset`` gives each message the fields a parser would, at the cost of a dict lookup and a
copy: at start it dissects the distinct lines of ``sample`` (at most ``max-lines``) with
``mapping``; a message whose text is one of them gets a copy of that line's fields (its
own dict, as a parser's output is), any other message is left as it is.  Run on a file
made of those lines, ``stdin → preset → log`` costs what ``stdin → dissect → log`` costs
with a parser that cost nothing but the copy: the best any parser of that line can do in
this pipeline (``bench_transforms`` reports it as the floor).

Usage: ``python bench/preset_run.py run -c pipeline.yml`` (the arguments of ``qframe``).
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import repeat
from operator import attrgetter
from typing import Any

from qframe.message import Message
from qframe.options import Field, PluginOptions
from qframe.plugin import Filter
from qframe.plugins.filters.dissect import Dissector
from qframe.registry import Registry

_get_message = attrgetter("message")


class PresetFilter(Filter):
    """Sets each message's fields from a table made at start (bench only)."""

    class Options(PluginOptions):
        sample: str = Field(..., description="a file of lines")
        mapping: str = Field(..., description="the dissect mapping that makes the table")
        max_lines: int = Field(4096, description="distinct lines in the table")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        o = self.options
        d = Dissector(o.mapping)
        self.table: dict[str, dict[str, Any]] = {}
        with open(o.sample, encoding="utf-8") as f:
            for line in f:
                text = line.rstrip("\n")
                got = d.dissect(text)
                if got is not None:
                    self.table[text] = got
                if len(self.table) >= o.max_lines:
                    break

    async def process(self, batch: list[Message]) -> list[Message]:
        get = self.table.get
        found = list(map(get, map(_get_message, batch)))
        if None in found:
            for m, f in zip(batch, found, strict=True):
                if f is not None:
                    m._fields = f.copy()
            return batch
        deque(map(setattr, batch, repeat("_fields"), map(dict.copy, found)), maxlen=0)
        return batch


def main() -> None:
    discover = Registry.discover

    def with_preset(load: bool = False) -> Registry:
        reg = discover(load)
        reg.add("filter", "preset", PresetFilter)
        return reg

    Registry.discover = with_preset  # type: ignore[assignment,method-assign]
    from qframe.cli import main as qframe

    qframe(sys.argv[1:])


if __name__ == "__main__":
    main()
