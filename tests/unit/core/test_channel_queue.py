"""The bounded queue between instances (qframe.runtime.channel.Channel), on its own: what
each side waits for, what wakes it, how batches merge, and what a cancelled producer leaves.

Every wait here is awaited on the event loop (turns of the loop, no time): a task that
"stays blocked" is one that has had every chance to run and did not finish.
"""

from __future__ import annotations

import asyncio

from qframe.message import Message
from qframe.runtime.channel import TICK, Channel


def batch(*texts: str) -> list[Message]:
    return [Message(t) for t in texts]


def texts(got: object) -> list[str]:
    assert isinstance(got, list), got
    return [m.message for m in got]


async def settle() -> None:
    """Let every ready task run until none is left to run (turns of the loop, not time)."""
    for _ in range(50):
        await asyncio.sleep(0)


def test_a_new_channel_is_empty_open_and_not_full() -> None:
    ch = Channel(capacity=3)
    assert (ch.capacity, ch.count, len(ch), ch.closed, ch.full) == (3, 0, 0, False, False)
    assert repr(TICK) == "TICK"


async def test_full_at_the_capacity_and_not_below() -> None:
    ch = Channel(capacity=3)
    assert await ch.put(batch("a", "b")) is True
    assert (len(ch), ch.full) == (2, False)
    assert await ch.put(batch("c")) is True
    assert (len(ch), ch.full) == (3, True)


async def test_an_empty_batch_queues_nothing_even_when_full_or_closed() -> None:
    ch = Channel(capacity=1)
    assert await ch.put([]) is True
    assert ch.put_nowait([]) is True
    ch.push([])
    assert len(ch) == 0
    await ch.put(batch("a"))
    assert await asyncio.wait_for(ch.put([]), 30) is True  # full, yet it does not wait
    assert len(ch) == 1
    ch.close()
    assert texts(await ch.get()) == ["a"]
    assert await ch.get() is None


async def test_a_waiting_get_is_woken_by_put_put_nowait_push_and_tick() -> None:
    ch = Channel(capacity=10)
    for wake in (
        lambda: asyncio.ensure_future(ch.put(batch("p"))),
        lambda: ch.put_nowait(batch("n")),
        lambda: ch.push(batch("u")),
        ch.tick,
    ):
        getter = asyncio.ensure_future(ch.get())
        await settle()
        assert not getter.done()
        wake()
        got = await asyncio.wait_for(getter, 30)
        assert got is TICK or len(texts(got)) == 1
    assert len(ch) == 0


async def test_a_get_gets_every_queued_batch_merged_up_to_max_messages() -> None:
    ch = Channel(capacity=100)
    first = batch("a")
    for b in (first, batch("b", "c"), batch("d"), batch("e", "f")):
        await ch.put(b)
    assert texts(await ch.get(max_messages=3)) == ["a", "b", "c"]  # 1 + 2 = 3: merged
    assert len(ch) == 3
    assert texts(first) == ["a"]  # the batch put is not the one extended
    assert texts(await ch.get(max_messages=3)) == ["d", "e", "f"]
    assert len(ch) == 0


async def test_a_batch_of_max_messages_or_more_is_returned_alone() -> None:
    ch = Channel(capacity=100)
    await ch.put(batch("a", "b", "c"))
    await ch.put(batch("d"))
    assert texts(await ch.get(max_messages=3)) == ["a", "b", "c"]
    await ch.put(batch("e", "f", "g", "h"))
    assert texts(await ch.get(max_messages=3)) == ["d"]  # d + 4 would pass 3
    assert texts(await ch.get(max_messages=3)) == ["e", "f", "g", "h"]


async def test_get_merges_at_most_4096_messages_by_default() -> None:
    ch = Channel(capacity=10_000)
    for i in range(4097):
        ch.push([Message(str(i))])
    assert len(texts(await ch.get())) == 4096
    assert texts(await ch.get()) == ["4096"]


async def test_a_tick_comes_before_queued_batches_and_once() -> None:
    ch = Channel(capacity=10)
    await ch.put(batch("a"))
    ch.tick()
    ch.tick()
    assert await ch.get() is TICK
    assert texts(await ch.get()) == ["a"]
    getter = asyncio.ensure_future(ch.get())
    await settle()
    assert not getter.done()  # the two ticks made one
    ch.close()
    assert await asyncio.wait_for(getter, 30) is None


async def test_put_waits_while_full_and_a_get_lets_it_in() -> None:
    ch = Channel(capacity=2)
    await ch.put(batch("a", "b"))
    blocked = asyncio.ensure_future(ch.put(batch("c")))
    await settle()
    assert not blocked.done() and len(ch) == 2
    assert texts(await ch.get()) == ["a", "b"]
    assert await asyncio.wait_for(blocked, 30) is True
    assert len(ch) == 1


async def test_a_put_over_the_capacity_goes_in_when_there_is_any_room() -> None:
    ch = Channel(capacity=2)
    await ch.put(batch("a"))
    assert await asyncio.wait_for(ch.put(batch("b", "c", "d")), 30) is True
    assert (len(ch), ch.full) == (4, True)


async def test_blocked_producers_go_in_in_the_order_they_came() -> None:
    ch = Channel(capacity=1)
    await ch.put(batch("x"))
    order = [asyncio.ensure_future(ch.put(batch(t))) for t in ("a", "b", "c")]
    await settle()
    assert not any(p.done() for p in order)
    got = []
    while len(got) < 4:
        got += texts(await asyncio.wait_for(ch.get(max_messages=1), 30))
    assert got == ["x", "a", "b", "c"]


async def test_a_producer_coming_while_still_full_goes_in_after_those_waiting() -> None:
    """A get that leaves the queue exactly full (it was past its capacity: a push) wakes
    no producer: a producer that comes before the waiting ones could run again would
    otherwise wait in front of them."""
    ch = Channel(capacity=2)
    ch.push(batch("w"))
    ch.push(batch("x", "y"))  # 3 messages: one past the capacity
    waiting = [asyncio.ensure_future(ch.put(batch(t))) for t in ("a", "b")]
    await settle()
    late = asyncio.ensure_future(ch.put(batch("c")))  # runs before anything woken now
    assert texts(await ch.get(max_messages=1)) == ["w"]
    assert len(ch) == 2  # full still
    await settle()
    assert not any(p.done() for p in [*waiting, late])
    got = []
    while len(got) < 5:
        got += texts(await asyncio.wait_for(ch.get(max_messages=1), 30))
    assert got == ["x", "y", "a", "b", "c"]


async def test_a_producer_cancelled_after_its_wake_up_passes_the_wake_up_on() -> None:
    ch = Channel(capacity=1)
    await ch.put(batch("x"))
    a = asyncio.ensure_future(ch.put(batch("a")))
    b = asyncio.ensure_future(ch.put(batch("b")))
    await settle()
    # the get wakes a (room for one), and a is cancelled before it could run
    assert texts(await ch.get()) == ["x"]
    a.cancel()
    await settle()
    assert a.cancelled()
    assert b.done() and b.result() is True  # else b would wait although there is room
    assert texts(await ch.get()) == ["b"]


async def test_a_producer_cancelled_while_full_leaves_no_waiter_and_the_order_stands() -> None:
    ch = Channel(capacity=1)
    await ch.put(batch("x"))
    a = asyncio.ensure_future(ch.put(batch("a")))
    b = asyncio.ensure_future(ch.put(batch("b")))
    c = asyncio.ensure_future(ch.put(batch("c")))
    await settle()
    a.cancel()
    await settle()
    assert a.cancelled() and not b.done() and not c.done()
    assert len(ch._putters) == 2  # a's wait is gone, not left for a wake-up to skip
    got = []
    while len(got) < 3:
        got += texts(await asyncio.wait_for(ch.get(max_messages=1), 30))
    assert got == ["x", "b", "c"]  # b, woken first, was not sent behind c


async def test_close_wakes_every_blocked_producer_and_nothing_more_goes_in() -> None:
    ch = Channel(capacity=1)
    await ch.put(batch("x"))
    blocked = [asyncio.ensure_future(ch.put(batch(t))) for t in ("a", "b")]
    await settle()
    ch.close()
    assert ch.closed
    assert await asyncio.wait_for(asyncio.gather(*blocked), 30) == [False, False]
    assert await ch.put(batch("c")) is False
    assert len(ch) == 1
    assert texts(await ch.get()) == ["x"]  # what was queued is still delivered
    assert await ch.get() is None
    assert await ch.get() is None


async def test_close_wakes_a_waiting_get_with_none() -> None:
    ch = Channel(capacity=1)
    getter = asyncio.ensure_future(ch.get())
    await settle()
    assert not getter.done()
    ch.close()
    assert await asyncio.wait_for(getter, 30) is None


async def test_put_nowait_queues_only_when_there_is_room() -> None:
    ch = Channel(capacity=2)
    assert ch.put_nowait(batch("a")) is True
    assert len(ch) == 1
    assert ch.put_nowait(batch("b", "c")) is True  # any room lets a whole batch in
    assert (len(ch), ch.full) == (3, True)
    assert ch.put_nowait(batch("d")) is False
    assert len(ch) == 3
    assert texts(await ch.get()) == ["a", "b", "c"]
    assert ch.put_nowait(batch("e", "f")) is True
    assert ch.put_nowait(batch("g")) is False  # exactly full is full
    assert texts(await ch.get()) == ["e", "f"]


async def test_push_goes_past_the_capacity() -> None:
    ch = Channel(capacity=1)
    await ch.put(batch("a"))
    ch.push(batch("b", "c"))
    assert len(ch) == 3
    assert texts(await ch.get()) == ["a", "b", "c"]


async def test_take_all_empties_the_queue_and_lets_blocked_producers_in() -> None:
    ch = Channel(capacity=2)
    await ch.put(batch("a"))
    await ch.put(batch("b", "c"))
    blocked = asyncio.ensure_future(ch.put(batch("d")))
    await settle()
    assert not blocked.done()
    assert texts(ch.take_all()) == ["a", "b", "c"]
    assert await asyncio.wait_for(blocked, 30) is True
    assert len(ch) == 1
    assert texts(await ch.get()) == ["d"]
    assert ch.take_all() == [] and len(ch) == 0


async def test_a_get_after_a_cancelled_get_still_gets_woken() -> None:
    ch = Channel(capacity=2)
    first = asyncio.ensure_future(ch.get())
    await settle()
    first.cancel()
    await settle()
    assert first.cancelled()
    await ch.put(batch("a"))  # wakes nobody: the cancelled get's wait is done
    second = asyncio.ensure_future(ch.get())
    await settle()
    assert texts(second.result()) == ["a"]
    third = asyncio.ensure_future(ch.get())
    await settle()
    assert not third.done()
    await ch.put(batch("b"))
    assert texts(await asyncio.wait_for(third, 30)) == ["b"]
