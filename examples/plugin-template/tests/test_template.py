"""The template's own tests, written with qframe.testing as any plugin package would."""

from __future__ import annotations

from qframe.testing import Harness


async def test_uppercase_changes_only_matching_messages() -> None:
    config = {
        "collector": {"src": {"kind": "list", "messages": ["hello", "keep me"]}},
        "filter": {"up": {"kind": "uppercase", "inputs": ["src"], "only-matching": "^h"}},
        "handler": {"out": {"kind": "capture", "inputs": ["up"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion(5)
    assert [m.message for m in h.captured("out")] == ["HELLO", "keep me"]


async def test_counter_emits_then_ends() -> None:
    config = {
        "collector": {"counter": {"count": 4, "interval": "1ms"}},
        "handler": {"out": {"kind": "capture", "inputs": ["counter"]}},
    }
    async with Harness(config) as h:
        await h.run_to_completion(5)
    assert [m.fields["n"] for m in h.captured("out")] == [0, 1, 2, 3]
