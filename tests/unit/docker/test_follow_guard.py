"""FollowGuard: a follow stream's chunk is used only if the container was seen running after it."""

from __future__ import annotations

from qframe.plugins.collectors.docker_logs import FollowGuard


class Engine:
    """A container's running state and the inspects asked, on a clock the test moves."""

    def __init__(self, latency: float = 0.0) -> None:
        self.now = 100.0
        self.running = True
        self.latency = latency  # how long an inspect takes
        self.asked: list[float] = []

    async def is_running(self) -> bool:
        self.asked.append(self.now)
        self.now += self.latency
        return self.running

    def clock(self) -> float:
        return self.now

    def guard(self) -> FollowGuard:
        return FollowGuard(self.is_running, window=0.2, clock=self.clock)


async def test_the_first_chunk_is_checked_and_later_ones_within_the_window_are_not() -> None:
    e = Engine()
    g = e.guard()
    assert await g.trusted()
    e.now += 0.1
    assert await g.trusted()
    e.now += 0.1
    assert await g.trusted()
    assert e.asked == [100.0]


async def test_a_chunk_after_the_window_is_refused_once_the_container_stopped() -> None:
    e = Engine()
    g = e.guard()
    assert await g.trusted()
    e.now += 0.3
    e.running = False
    assert not await g.trusted()
    assert e.asked == [100.0, 100.3]
    e.now += 0.01  # never seen running since: every later chunk is refused too
    assert not await g.trusted()
    assert e.asked == [100.0, 100.3, 100.31]


async def test_the_window_counts_from_when_the_question_was_sent_not_answered() -> None:
    e = Engine(latency=0.15)
    g = e.guard()
    assert await g.trusted()  # asked at 100.0, answered at 100.15
    e.now = 100.25  # 0.1 s after the answer, but 0.25 s after the question
    assert await g.trusted()
    assert e.asked == [100.0, 100.25]
