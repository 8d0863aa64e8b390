"""Routing by inputs, source-success branches, fan-out copies and acknowledgements."""

from __future__ import annotations

from qframe.testing import Harness

from .plugins import EXTRA


def nums(n: int) -> list[str]:
    return [str(i) for i in range(n)]


async def test_messages_reach_only_the_subscribers_of_the_emitting_instance() -> None:
    cfg = {
        "collector": {
            "a": {"kind": "list", "messages": ["from-a"]},
            "b": {"kind": "list", "messages": ["from-b"]},
        },
        "handler": {
            "only-a": {"kind": "capture", "inputs": "a"},
            "both": {"kind": "capture", "inputs": "a, b"},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(5)
    assert [m.message for m in h.captured("only-a")] == ["from-a"]
    assert sorted(m.message for m in h.captured("both")) == ["from-a", "from-b"]


async def test_source_path_names_every_instance_passed() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": ["x"]}},
        "filter": {"f1": {"kind": "id", "inputs": ["src"]}, "f2": {"kind": "id", "inputs": ["f1"]}},
        "handler": {"out": {"kind": "capture", "inputs": ["f2"]}},
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(5)
    assert h.captured("out")[0].source_path == ["src", "f1", "f2", "out"]


async def test_source_success_true_false_and_any_branches() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": nums(10)}},
        "filter": {"even": {"inputs": ["src"]}},
        "handler": {
            "yes": {"kind": "capture", "inputs": ["even"]},
            "no": {"kind": "capture", "inputs": ["even"], "source-success": False},
            "all": {"kind": "capture", "inputs": ["even"], "source-success": "any"},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(5)
    assert [m.message for m in h.captured("yes")] == ["0", "2", "4", "6", "8"]
    assert [m.message for m in h.captured("no")] == ["1", "3", "5", "7", "9"]
    assert [m.message for m in h.captured("all")] == nums(10)


async def test_fan_out_branches_get_independent_copies() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": ["m"]}},
        "filter": {
            "left": {"kind": "tag", "inputs": ["src"], "tag": "L"},
            "right": {"kind": "tag", "inputs": ["src"], "tag": "R"},
        },
        "handler": {
            "l": {"kind": "capture", "inputs": ["left"]},
            "r": {"kind": "capture", "inputs": ["right"]},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        await h.run_to_completion(5)
    (left,) = h.captured("l")
    (right,) = h.captured("r")
    assert left is not right
    assert left.tags == ["L"] and right.tags == ["R"]
    assert left.fields == {"seen_by": "left"} and right.fields == {"seen_by": "right"}
    assert left.source_path == ["src", "left", "l"] and right.source_path == ["src", "right", "r"]


async def test_acknowledgement_waits_for_every_fan_out_branch() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": nums(100), "ack": True, "linger": True}},
        "handler": {
            "fast": {"kind": "capture", "inputs": ["src"]},
            "slow": {"kind": "capture", "inputs": ["src"], "delay": "0.3s"},
        },
    }
    async with Harness(cfg, EXTRA) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: len(h.captured("fast")) == 100)
        assert src.acked == 0, "acknowledged before the slow branch wrote"
        await h.wait_for(lambda: src.acked == 100)
        assert len(h.captured("slow")) == 100


async def test_dropped_and_unrouted_messages_are_acknowledged() -> None:
    cfg = {
        "collector": {"src": {"kind": "list", "messages": nums(10), "ack": True, "linger": True}},
        "filter": {"drop-odd": {"inputs": ["src"]}, "even": {"inputs": ["src"]}},
        "handler": {
            "a": {"kind": "capture", "inputs": ["drop-odd"]},
            "b": {"kind": "capture", "inputs": ["even"]},  # takes only source_success true
        },
    }
    async with Harness(cfg, EXTRA) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: src.acked == 10)
        assert h.pipeline.find("drop-odd").metrics.dropped == {"filtered": 5}
    assert len(h.captured("a")) == 5 and len(h.captured("b")) == 5
