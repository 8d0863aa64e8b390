"""id: relays every message unchanged (the seed's id filter)."""

from __future__ import annotations

from ...message import Message
from ...plugin import Filter


class IdFilter(Filter):
    """Relays every message unchanged (its name is appended to ``source_path``).

    Useful as a junction: several inputs in, one name out.
    """

    async def process(self, batch: list[Message]) -> list[Message]:
        return batch
