"""Routing by inputs, source-success branches, fan-out copies and acknowledgements."""

from __future__ import annotations

from typing import Any

import pytest

from qframe import Collector, Field, PluginOptions
from qframe.batch import Runs, new_logs
from qframe.message import Delivery
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


class RunsCollector(Collector):
    """Emits one Runs of three reads (``a``, ``b``, ``c``, 3 messages each), the ones
    in ``failed`` with source_success false, the first with no source_path (the runtime
    starts it), every message with one delivery token."""

    class Options(PluginOptions):
        failed: list[int] = Field(default_factory=lambda: [1], description="failed reads")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.acked = 0

    def _done(self) -> None:
        self.acked += 1

    async def run(self) -> None:
        reads = [new_logs([f"{k}{i}" for i in range(3)], 1.0, "h", self.name) for k in "abc"]
        for m in reads[0]:
            m.source_path.clear()
        for k in self.options.failed:
            for m in reads[k]:
                m.source_success = False
        batch = Runs([m for r in reads for m in r], [3, 6, 9])
        token = Delivery(len(batch), self._done)
        for m in batch:
            m.ack = token
        await self.emit(batch)


RUNS = {**EXTRA, ("collector", "runs"): RunsCollector}


async def test_the_reads_of_runs_are_routed_by_their_own_source_success() -> None:
    """Each read of a Runs batch speaks for itself (by its first message): one that
    failed goes only where failures go; every message is acknowledged once."""
    cfg = {
        "collector": {"src": {"kind": "runs"}},
        "handler": {
            "yes": {"kind": "capture", "inputs": ["src"]},
            "no": {"kind": "capture", "inputs": ["src"], "source-success": False},
        },
    }
    async with Harness(cfg, RUNS) as h:
        await h.run_to_completion(5)
    assert [m.message for m in h.captured("yes")] == ["a0", "a1", "a2", "c0", "c1", "c2"]
    assert [m.message for m in h.captured("no")] == ["b0", "b1", "b2"]
    assert {tuple(m.source_path) for m in h.captured("yes")} == {("src", "yes")}
    assert h.plugin("src").acked == 1  # the token's callback: all 18 deliveries done


@pytest.mark.parametrize(
    ("failed", "taken"),
    [([1], ["a0", "a1", "a2", "c0", "c1", "c2"]), ([0, 1, 2], []), ([], None)],
)
async def test_the_reads_of_runs_one_branch_does_not_take_are_acknowledged(
    failed: list[int], taken: list[str] | None
) -> None:
    cfg = {
        "collector": {"src": {"kind": "runs", "failed": failed}},
        "handler": {"yes": {"kind": "capture", "inputs": ["src"]}},
    }
    async with Harness(cfg, RUNS) as h:
        await h.run_to_completion(5)
    want = [f"{k}{i}" for k in "abc" for i in range(3)] if taken is None else taken
    assert [m.message for m in h.captured("yes")] == want
    assert h.plugin("src").acked == 1


def test_the_first_message_of_each_read_and_none_of_an_empty_one() -> None:
    from qframe.batch import UniformBatch
    from qframe.runtime.node import _heads

    ms = new_logs(["a", "b", "c", "d"], 1.0, "h", "s")
    assert _heads(Runs(ms, [2, 2, 4, 4])) == [ms[0], ms[2]]
    assert _heads(UniformBatch(ms)) == [ms[0]]
    assert _heads(UniformBatch()) == []
    assert _heads(ms) is None
