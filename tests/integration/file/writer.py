"""A log writer for the file collector's integration tests (run as a separate process).

``python writer.py PATH LINES BURST PAUSE MODE``: appends ``LINES`` numbered lines in
bursts, flushing after each; ``MODE`` ``reopen`` reopens the path when it names another
file (what an application does after ``logrotate`` with ``create``), ``append`` keeps its
O_APPEND descriptor (what ``copytruncate`` relies on).  Prints nothing; exits 0.
"""

from __future__ import annotations

import os
import sys
import time


def line(i: int) -> bytes:
    return b"line %08d %s\n" % (i, b"x" * (20 + i % 50))


def main() -> None:
    path, lines, burst, pause, mode = sys.argv[1:6]
    n, b, p = int(lines), int(burst), float(pause)
    f = open(path, "ab")
    for start in range(0, n, b):
        if mode == "reopen":
            try:
                if os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                    f.close()
                    f = open(path, "ab")
            except FileNotFoundError:
                f.close()
                f = open(path, "ab")
        f.write(b"".join(line(i) for i in range(start, min(n, start + b))))
        f.flush()
        time.sleep(p)
    f.close()


if __name__ == "__main__":
    main()
