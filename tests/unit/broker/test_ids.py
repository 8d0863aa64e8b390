"""IdSource: the ids an agent gives messages before they first leave it."""

from __future__ import annotations

from qframe.broker.ids import IdSource
from qframe.message import Message


def test_ids_are_consecutive_per_source_and_kept_when_a_message_has_one() -> None:
    src = IdSource()
    p = src.prefix
    assert len(p) == 12 and int(p, 16) >= 0
    batch = [Message("a"), Message("b", id="mine"), Message("c"), Message("d")]
    assert src.assign(batch) == 3
    assert [m.id for m in batch] == [f"{p}-1", "mine", f"{p}-2", f"{p}-3"]
    more = [Message(str(i)) for i in range(15)]
    assert src.assign(more) == 15
    assert [m.id for m in more] == [f"{p}-{i:x}" for i in range(4, 19)]
    assert src.next() == f"{p}-13"  # hex: 19
    assert src.take(3) == 20 and src.next() == f"{p}-17"  # 20..22 reserved, then 23
    assert IdSource().prefix != p  # another process (or restart): another prefix
