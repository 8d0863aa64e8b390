"""A log writer process: ``python -m chaos.writer PATH TAG LINES RATE``.

Appends ``chaos-TAG-<n>`` lines at RATE lines/s in bursts of 1/20 s, flushing each, and
reopens PATH when it names another file (what an application does after ``logrotate``
with ``create``).  Exits 0 after the last line.
"""

from __future__ import annotations

import os
import sys
import time

from chaos.common import line


def main() -> None:
    path, tag, lines, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    f = open(path, "ab")
    t0 = time.monotonic()
    i = 0
    while i < lines:
        try:
            if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                f.close()
                f = open(path, "ab")
        except FileNotFoundError:
            f.close()
            f = open(path, "ab")
        due = min(lines, int((time.monotonic() - t0) * rate) + 1)
        if due > i:
            f.write(b"".join(line(tag, j).encode() + b"\n" for j in range(i, due)))
            f.flush()
            i = due
        time.sleep(0.05)
    f.close()


if __name__ == "__main__":
    main()
