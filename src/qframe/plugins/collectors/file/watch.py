"""inotify through libc (ctypes): wake-ups for discovery and for idle tailers.

Polling stays the ground truth (``scan-interval``, ``poll-interval``); inotify only
shortens the wait: a file created or moved into a watched directory wakes discovery,
a write to a file wakes its tailer.  Where inotify is missing (not Linux, no libc
symbol, watch limits reached) everything goes on by polling alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
import sys
from collections.abc import Callable

__all__ = ["Watcher"]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
DIR_MASK = IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_EVENT = struct.Struct("iIII")


class Watcher:
    """One inotify instance watching directories (not recursive)."""

    def __init__(
        self,
        on_new: Callable[[], None],
        on_write: Callable[[str], None],
        on_all: Callable[[], None],
    ) -> None:
        self._on_new = on_new  # something appeared or went away: scan
        self._on_write = on_write  # a file (full path) was written to
        self._on_all = on_all  # events were lost: wake everything
        self._fd = -1
        self._libc: ctypes.CDLL | None = None
        self._dirs: dict[int, str] = {}  # wd -> directory
        self._watched: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> bool:
        return self._fd >= 0

    def start(self) -> bool:
        if not sys.platform.startswith("linux"):
            return False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            init = libc.inotify_init1
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        except (OSError, AttributeError):
            return False
        fd = init(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return False
        self._libc = libc
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._read)
        return True

    def watch(self, directory: str) -> bool:
        """Watch a directory (idempotent); False when it cannot be watched."""
        if self._libc is None or directory in self._watched:
            return self._libc is not None
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), DIR_MASK)
        if wd < 0:
            return False
        self._dirs[wd] = directory
        self._watched.add(directory)
        return True

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            self._on_all()
            return
        new = False
        pos = 0
        size = _EVENT.size
        while pos + size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
            name = data[pos + size : pos + size + length].split(b"\0", 1)[0]
            pos += size + length
            if mask & IN_Q_OVERFLOW:
                self._on_all()
                continue
            if mask & IN_IGNORED:  # the directory went away
                d = self._dirs.pop(wd, None)
                if d is not None:
                    self._watched.discard(d)
                new = True
                continue
            d = self._dirs.get(wd)
            if d is None or not name:
                continue
            if mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB):
                new = True
            if mask & (IN_MODIFY | IN_ATTRIB):
                self._on_write(os.path.join(d, os.fsdecode(name)))
        if new:
            self._on_new()

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(fd)
            os.close(fd)
        self._dirs.clear()
        self._watched.clear()
        self._libc = None
