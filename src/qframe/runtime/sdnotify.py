"""systemd's notify protocol (``Type=notify``): a datagram per state to ``$NOTIFY_SOCKET``.

``READY=1`` once the pipeline runs, ``RELOADING=1`` … ``READY=1`` around a SIGHUP reload,
``STOPPING=1`` when the drain begins, and ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC``
(when set, and ``$WATCHDOG_PID`` is unset or ours) from its own task, so a stuck event loop
misses it whatever the pipeline's ``tick``.  Without ``$NOTIFY_SOCKET`` every call is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

log = logging.getLogger("qframe.daemon")

__all__ = ["Notifier"]


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if addr.startswith("@"):
            self.address = "\0" + addr[1:]  # an abstract socket
        elif addr.startswith("/"):
            self.address = addr
        self.watchdog_s: float | None = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1e6
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """One datagram of ``KEY=value`` lines; False (logged) when it could not be sent."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError as exc:
            log.warning("NOTIFY_SOCKET %s: %s", self.address.lstrip("\0"), exc)
            return False

    def ready(self, status: str = "") -> None:
        self.send("READY=1", *((f"STATUS={status}",) if status else ()))

    def reloading(self) -> None:
        # MONOTONIC_USEC is what Type=notify-reload (systemd 253+) wants; older ones ignore it
        self.send(
            "RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
        )

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def start_watchdog(self) -> None:
        if self.enabled and self.watchdog_s and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watchdog(self.watchdog_s / 2))

    async def _watchdog(self, every: float) -> None:
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(every)

    async def close(self) -> None:
        t, self._task = self._task, None
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
