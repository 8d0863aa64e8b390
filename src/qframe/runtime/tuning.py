"""Process tuning for a throughput-bound daemon (applied once by ``qframe run``).

- glibc malloc: batches allocate and free megabyte-sized strings all the time; with
  the default trim/mmap thresholds the heap shrinks and grows on every batch (thousands
  of ``brk`` calls and page faults: measured here as half of the CPU time).  Raising the
  trim threshold, the top pad and the mmap threshold keeps that memory in the heap.
- The cyclic GC: messages are short-lived, acyclic containers; the default gen-0
  threshold (700) runs a collection every few hundred lines.  Objects alive after
  start-up are frozen, and the thresholds raised.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3


def tune_malloc(
    trim: int = 64 << 20, top_pad: int = 16 << 20, mmap_threshold: int = 16 << 20
) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    ok = mallopt(M_TRIM_THRESHOLD, trim) == 1
    ok &= mallopt(M_TOP_PAD, top_pad) == 1
    ok &= mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
    return bool(ok)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_process() -> None:
    tune_malloc()
    tune_gc()
