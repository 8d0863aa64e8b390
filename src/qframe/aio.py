"""asyncio helpers."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """``event.wait()`` for at most ``timeout`` seconds; True when the event is set.

    Not ``asyncio.wait_for``: on Python 3.11 it returns instead of raising when its task is
    cancelled in the loop turn in which the event is set (gh-86296, fixed in 3.12), so a
    loop that waits for a wake-up swallows the cancellation of a stop and goes on.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
