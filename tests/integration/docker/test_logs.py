"""docker-logs against the Podman Docker API: streams, skip label, long lines, resume."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from qframe.message import Message
from qframe.plugin import Handler, ack
from qframe.testing import Harness, wait_until
from tests.integration.docker.helpers import (
    COUNTER,
    numbers,
    of,
    pipeline,
    podman_count,
    wait_or_explain,
)
from tests.services.podman import PodmanService

SKIP = "org.qnib.qframe.skip-log"


def logs_pipeline(podman: PodmanService, data_dir: Path, **opts: object) -> dict[str, object]:
    return pipeline(
        podman.docker_host,
        data_dir,
        {"docker-events": {}, "docker-logs": {"inputs": ["docker-events"], **opts}},
        capture_inputs=["docker-logs"],
    )


async def test_stdout_and_stderr_lines_arrive_tagged_with_their_container_and_stream(
    podman: PodmanService, tmp_path: Path
) -> None:
    name, skipped = podman.unique("talk"), podman.unique("quiet")
    script = "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done"
    async with Harness(logs_pipeline(podman, tmp_path)) as h:
        out = h.captured("out")
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        podman.run(skipped, "sh", "-c", script, labels={SKIP: "true"})
        cid = podman.run(name, "sh", "-c", script)
        await wait_until(lambda: len(of(out, name)) >= 10, timeout=20)
    podman.rm(name, skipped)
    lines = of(out, name)
    stdout = [m.message for m in lines if m.fields["stream"] == "stdout"]
    stderr = [m.message for m in lines if m.fields["stream"] == "stderr"]
    assert stdout[:3] == ["out 0", "out 1", "out 2"]
    assert stderr[:3] == ["err 0", "err 1", "err 2"]
    assert all(m.kind == "log" and m.container and m.container.id == cid for m in lines)
    assert len({m.id for m in lines}) == len(lines)
    assert all(m.id.startswith(cid + ":") for m in lines)
    assert of(out, skipped) == []
    assert h.plugin("docker-logs").metrics.counter("skipped") >= 1


async def test_a_line_the_engine_split_arrives_whole_and_a_tty_container_is_read_too(
    podman: PodmanService, tmp_path: Path
) -> None:
    long, tty = podman.unique("long"), podman.unique("tty")
    async with Harness(logs_pipeline(podman, tmp_path)) as h:
        out = h.captured("out")
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        podman.run(
            long, "sh", "-c", "head -c 20000 /dev/zero | tr '\\0' a; echo; echo after; sleep 60"
        )
        podman.run(tty, "sh", "-c", "echo from a tty; sleep 60", tty=True)
        # (generous: under load the engine's start, inspect and log stream each take seconds)
        await wait_or_explain(
            h,
            lambda: len(of(out, long)) >= 2 and len(of(out, tty)) >= 1,
            timeout=90,
            what="long and tty",
        )
    podman.rm(long, tty)
    assert [m.message for m in of(out, long)] == ["a" * 20000, "after"]
    assert [m.message for m in of(out, tty)] == ["from a tty"]


async def test_after_a_restart_of_qframe_reading_resumes_with_no_gap_and_no_duplicate(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("count")
    podman.run(name, "sh", "-c", COUNTER)
    try:
        config = logs_pipeline(podman, tmp_path, **{"from-beginning": True})
        async with Harness(config) as h:
            first = h.captured("out")
            await wait_until(lambda: len(numbers(first, name)) >= 8, timeout=20)
        seen = numbers(first, name)
        assert seen == list(range(len(seen)))
        # lines written while qframe is down must come on the next run
        await wait_until(lambda: podman_count(podman, name) >= len(seen) + 10, timeout=20)
        async with Harness(config) as h:
            second = h.captured("out")
            await wait_until(lambda: len(numbers(second, name)) >= 15, timeout=20)
            replayed = h.plugin("docker-logs").metrics.counter("replayed")
        again = numbers(second, name)
        assert again[0] == seen[-1] + 1
        assert again == list(range(again[0], again[0] + len(again)))
        assert replayed >= 1  # the engine's since is a whole second: some lines came twice
    finally:
        podman.rm(name)


async def test_a_garbled_checkpoint_means_a_replay_from_the_first_line_not_a_silent_gap(
    podman: PodmanService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The checkpoint existed but cannot be read: qframe ran before, so the lines written
    while it was down are read again (from the container's first line, same ids), not
    skipped as if the container were new to it (read from the collector's start)."""
    name = podman.unique("garbled")
    config = logs_pipeline(podman, tmp_path)  # from-beginning: false (the default)
    try:
        async with Harness(config) as h:
            first = h.captured("out")
            await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
            cid = podman.run(name, "sh", "-c", COUNTER)
            await wait_or_explain(h, lambda: len(numbers(first, name)) >= 8, 30, "first run")
        seen = numbers(first, name)
        assert seen == list(range(len(seen)))
        assert cid in checkpoint(tmp_path)
        # lines written while qframe is down (over a second: before the next start's second)
        await wait_until(lambda: podman_count(podman, name) >= len(seen) + 10, timeout=30)
        written = podman_count(podman, name)
        ckpt = tmp_path / "collector.docker-logs" / "positions.json"
        ckpt.write_bytes(ckpt.read_bytes()[:40])  # torn
        caplog.clear()
        async with Harness(config) as h:
            second = h.captured("out")
            await wait_or_explain(
                h,
                lambda: set(range(written)) <= set(numbers(second, name)),
                30,
                "every line written so far",
            )
            rejected = h.plugin("docker-logs").metrics.counter("rejected", reason="checkpoint")
    finally:
        podman.rm(name)
    assert rejected == 1
    errors = [r.getMessage() for r in caplog.records if "unreadable checkpoint" in r.getMessage()]
    assert len(errors) == 1 and "read from their first line" in errors[0]
    again = numbers(second, name)
    assert again[: len(seen)] == seen  # replayed from the first line, in order
    ids = {m.message: m.id for m in of(first, name)}
    assert all(ids[m.message] == m.id for m in of(second, name) if m.message in ids)


async def test_a_container_started_while_qframe_was_down_is_read_from_its_first_line(
    podman: PodmanService, tmp_path: Path
) -> None:
    """Not in the checkpoint, but started after it was written: every line it wrote since
    is new to qframe (before, only those from the second qframe started again came)."""
    name = podman.unique("while-down")
    config = logs_pipeline(podman, tmp_path)  # from-beginning: false (the default)
    try:
        async with Harness(config):
            pass  # writes the checkpoint at stop (no container in it)
        assert (tmp_path / "collector.docker-logs" / "positions.json").exists()
        podman.run(name, "sh", "-c", COUNTER)
        await wait_until(lambda: podman_count(podman, name) >= 10, timeout=30)  # over 1 s
        written = podman_count(podman, name)
        async with Harness(config) as h:
            out = h.captured("out")
            await wait_or_explain(
                h, lambda: len(numbers(out, name)) >= written, 30, "the lines written before"
            )
    finally:
        podman.rm(name)
    got = numbers(out, name)
    assert got == list(range(len(got)))


async def test_without_inputs_docker_logs_and_docker_stats_follow_the_events_themselves(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("alone")
    config = pipeline(
        podman.docker_host,
        tmp_path,
        {"docker-logs": {"rescan": 0}, "docker-stats": {"rescan": 0}},
    )
    try:
        async with Harness(config) as h:
            out = h.captured("out")
            for p in ("docker-logs", "docker-stats"):
                await wait_until(lambda p=p: h.plugin(p).watcher.connections > 0)
            podman.run(name, "sh", "-c", "echo hello alone; sleep 3600")
            await wait_until(lambda: len(of(out, name, "log")) >= 1, timeout=20)
            await wait_until(lambda: len(of(out, name, "metric")) >= 1, timeout=20)
    finally:
        podman.rm(name)
    assert of(out, name, "log")[0].message == "hello alone"
    assert "stats" in of(out, name, "metric")[0].fields


class Holding(Handler):
    """Keeps what it receives and acknowledges only when the test says so."""

    manual_ack = True

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.messages: list[Message] = []

    async def handle(self, batch: list[Message]) -> None:
        self.messages.extend(batch)


def checkpoint(data_dir: Path) -> dict[str, Any]:
    p = data_dir / "collector.docker-logs" / "positions.json"
    return orjson.loads(p.read_bytes())["containers"] if p.exists() else {}


async def test_only_acknowledged_positions_are_checkpointed(
    podman: PodmanService, tmp_path: Path
) -> None:
    name = podman.unique("acked")
    # "two" only once the test saw "one": two reads, whatever the load (a fixed sleep
    # between them let a slow start read both at once, in one batch)
    script = "echo one; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo two; sleep 3600"
    cid = podman.run(name, "sh", "-c", script)
    config = pipeline(
        podman.docker_host,
        tmp_path,
        {"docker-logs": {"from-beginning": True, "rescan": 0}},
    )
    config["handler"]["out"]["kind"] = "holding"
    try:
        async with Harness(config, extra={("handler", "holding"): Holding}) as h:
            held = h.plugin("out").messages
            await wait_until(lambda: len(of(held, name)) == 1, timeout=60)
            podman.podman("exec", name, "touch", "/tmp/go")
            await wait_until(lambda: len(of(held, name)) == 2, timeout=60)
            one, two = of(held, name)
            assert one.ack is not two.ack  # two reads, two batches
            ts1, ts2 = (int(m.id.split(":")[1]) for m in (one, two))
            assert ts2 >= ts1  # the same second when Podman stamps whole seconds
            # read, nothing acknowledged: checkpointed at where the read started (its first
            # line, with from-beginning)
            await wait_until(lambda: checkpoint(tmp_path).get(cid) == {"ts": 0, "n": 0})
            ack([one])  # "two" was received too, but not acknowledged
            await wait_until(lambda: checkpoint(tmp_path)[cid] != {"ts": 0, "n": 0})
            assert checkpoint(tmp_path)[cid] == {"ts": ts1, "n": 1}
            ack([two])
            # n: how many lines stamped exactly ts2 were delivered
            n2 = 2 if ts2 == ts1 else 1
            await wait_until(lambda: checkpoint(tmp_path)[cid] == {"ts": ts2, "n": n2})
    finally:
        podman.rm(name)


async def test_lines_read_but_never_acknowledged_before_a_checkpoint_write_come_on_restart(
    podman: PodmanService, tmp_path: Path
) -> None:
    """A container that started while qframe ran: its lines were read and held, none
    acknowledged, and the checkpoint was written after them (at stop).  On the next start
    every line comes, from its first: before, the container was not in the checkpoint and
    was read from the second of that write, and the held lines before it were a gap."""
    name = podman.unique("held")
    config = pipeline(podman.docker_host, tmp_path, {"docker-logs": {"rescan": 0}})
    holding = {**config, "handler": {"out": {**config["handler"]["out"], "kind": "holding"}}}
    try:
        async with Harness(holding, extra={("handler", "holding"): Holding}) as h:
            held = h.plugin("out").messages
            await wait_until(lambda: h.plugin("docker-logs").watcher.connections > 0)
            cid = podman.run(name, "sh", "-c", COUNTER)
            # over a second of lines (one each 0.2 s): the first ones are older than the
            # second of the checkpoint write at stop
            await wait_or_explain(h, lambda: len(numbers(held, name)) >= 8, 30, "held lines")
        assert checkpoint(tmp_path)[cid] == {"ts": 0, "n": 0}
        async with Harness(config) as h:
            out = h.captured("out")
            await wait_or_explain(h, lambda: len(numbers(out, name)) >= 12, 30, "lines again")
    finally:
        podman.rm(name)
    got = numbers(out, name)
    assert got == list(range(len(got)))  # from the first line, none left out
    ids = {m.message: m.id for m in of(held, name)}
    assert all(ids[m.message] == m.id for m in of(out, name) if m.message in ids)


async def test_skip_running_leaves_out_the_containers_running_at_start_but_not_new_ones(
    podman: PodmanService, tmp_path: Path
) -> None:
    old, new = podman.unique("old"), podman.unique("new")
    podman.run(old, "sh", "-c", COUNTER)
    try:
        config = logs_pipeline(podman, tmp_path, **{"skip-running": True, "rescan": "200ms"})
        async with Harness(config) as h:
            out = h.captured("out")
            await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
            podman.run(new, "sh", "-c", COUNTER)
            await wait_until(lambda: len(numbers(out, new)) >= 5, timeout=20)
            # several rescans have run by now: they must not pick up the old one either
            logs = h.plugin("docker-logs")
            done = logs.metrics.counter("rescans")
            await wait_until(lambda: logs.metrics.counter("rescans") >= done + 2)
        assert numbers(out, new)[:5] == [0, 1, 2, 3, 4]
        assert of(out, old) == []
    finally:
        podman.rm(old, new)


async def test_every_line_of_a_container_that_wrote_fast_and_exited_arrives(
    podman: PodmanService, tmp_path: Path
) -> None:
    # Podman ends the follow stream of an exited container before the end of its log
    name = podman.unique("burst")
    n = 50_000
    async with Harness(logs_pipeline(podman, tmp_path)) as h:
        out = h.captured("out")
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        podman.run(name, "seq", "0", str(n - 1))
        await wait_or_explain(h, lambda: len(of(out, name)) >= n, timeout=60, what=f"{n} lines")
    podman.rm(name)
    assert numbers(out, name) == list(range(n))


class Slow(Handler):
    """Captures what it receives, but slowly: the pipeline fills and pauses the log reads."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.messages: list[Message] = []

    async def handle(self, batch: list[Message]) -> None:
        self.messages.extend(batch)
        await asyncio.sleep(0.02)  # a slow destination, not a wait for a condition


async def test_every_line_arrives_in_order_when_the_container_exits_while_handlers_are_slow(
    podman: PodmanService, tmp_path: Path
) -> None:
    # Podman drops lines from a follow stream whose reader is behind when the container
    # exits; the pause lets the stream open while the container runs, then it writes fast
    name = podman.unique("slow")
    n = 50_000
    config = logs_pipeline(podman, tmp_path)
    config["handler"]["out"]["kind"] = "slow"
    config["handler"]["out"]["queue-size"] = 1000
    async with Harness(config, extra={("handler", "slow"): Slow}) as h:
        out = h.plugin("out").messages
        await wait_until(lambda: h.plugin("docker-events").watcher.connections > 0)
        podman.run(
            name, "sh", "-c", f"sleep 1; seq 0 {n // 2 - 1}; sleep 0.5; seq {n // 2} {n - 1}"
        )
        await wait_or_explain(h, lambda: len(of(out, name)) >= n, timeout=90, what=f"{n} lines")
    podman.rm(name)
    assert numbers(out, name) == list(range(n))
