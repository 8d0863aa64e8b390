"""GELF over UDP: decompression bombs and a chunk flood (held before issue #21).

- bombs: zlib datagrams that expand to 50 MiB, and chunked gzip messages that expand to
  256 MiB (limit ``max-message-bytes`` 8 MiB): each must be rejected and counted once;
- a chunk flood: messages announced as 128 chunks of which only the first arrives, more
  than ``max-pending-bytes`` together: each must end counted, evicted or timed out;
- good messages throughout, every one delivered (or, UDP being UDP, counted as a kernel
  or queue drop), with qframe's memory bounded.
"""

from __future__ import annotations

import os
import socket
import time
import zlib

from chaos.clients import gelf_json, tally_file
from chaos.common import (
    Context,
    Qframe,
    Result,
    describe_counts,
    fill,
    free_port,
    line,
    settle,
    wait_for,
)

NAME = "gelf_bomb"
TITLE = "GELF UDP: zlib/gzip bombs, a flood of never-finished chunked messages, good traffic"
DEFECT = ""

RSS_BOUND_MIB = 256
CHUNK = 8000


def squeeze(mib: int, gz: bool) -> bytes:
    """Zeros that expand to ``mib`` MiB (zlib, or gzip for ``gz``)."""
    block = b"\0" * (1 << 20)
    if gz:
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
    else:
        c = zlib.compressobj(9)
    head = gelf_json("bomb")[:-1] + b', "_pad": "'
    out = [c.compress(head)]
    out += [c.compress(block) for _ in range(mib)]
    out.append(c.flush())
    return b"".join(out)


def chunks(payload: bytes, mid: bytes, count: int | None = None) -> list[bytes]:
    parts = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]
    n = count or len(parts)
    return [b"\x1e\x0f" + mid + bytes([i, n]) + p for i, p in enumerate(parts)]


def run(ctx: Context) -> Result:
    res = Result(NAME)
    good = ctx.scale(5_000, 2_000)
    bombs = ctx.scale(60, 20)
    flood = ctx.scale(8_000, 5_000)  # x 8 KB: beyond max-pending-bytes (32 MiB)
    port = free_port(socket.SOCK_DGRAM)
    out = ctx.tmp / "out.json"
    q = Qframe(
        ctx.tmp,
        {
            "tick": "200ms",
            "collector": {
                "gelf": {
                    "kind": "gelf",
                    "bind-host": "127.0.0.1",
                    "port": port,
                    "reassembly-timeout": "1s",
                }
            },
            "handler": {
                "out": {"kind": "log", "inputs": ["gelf"], "format": "json", "path": str(out)}
            },
        },
    )
    plain_bomb = squeeze(50, gz=False)
    chunked_bomb = squeeze(256, gz=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = ("127.0.0.1", port)
    try:
        q.start()
        sent_good = 0
        rounds = 10
        for r in range(rounds):
            for i in range(flood * r // rounds, flood * (r + 1) // rounds):
                sock.sendto(chunks(os.urandom(CHUNK), b"F%07d" % i, 128)[0], dest)
                if i % 100 == 0:
                    time.sleep(0.01)
            for b in range(bombs * r // rounds, bombs * (r + 1) // rounds):
                if b % 2:
                    sock.sendto(plain_bomb, dest)
                else:
                    for k, c in enumerate(chunks(chunked_bomb, b"B%07d" % b)):
                        sock.sendto(c, dest)
                        if k % 8 == 7:
                            time.sleep(0.002)
                    time.sleep(0.005)
            for i in range(good * r // rounds, good * (r + 1) // rounds):
                sock.sendto(gelf_json(line("g", i)), dest)
                sent_good += 1
                if i % 100 == 0:
                    time.sleep(0.01)
            time.sleep(0.05)
        settle(lambda: len(tally_file(out, "g")), good, timeout=20)

        def rejected(*reasons: str) -> int:
            return int(sum(q.metric("qframe_rejected_total", reason=x) for x in reasons))

        # the last flood messages time out on a later datagram or tick
        wait_for(lambda: rejected("incomplete", "pending_overflow") >= flood, 5)
        for i in range(3):
            sock.sendto(gelf_json(f"tail {i}"), dest)
        counts = q.counts()
        kernel = int(q.metric("qframe_udp_kernel_drops"))
        bombs_counted = rejected("decompression_bomb", "oversized")
        flood_counted = rejected("incomplete", "pending_overflow")
        fill(res, tally_file(out, "g"), sent_good)
        res.counted = q.counted() + kernel
        res.peak_rss_mib = q.peak_rss_mib
        res.note(
            "%d bombs (%.0f KiB zlib → 50 MiB, %d chunks gzip → 256 MiB), %d flood "
            "messages of 1 in 128 chunks; kernel drops %d; qframe counted: %s",
            bombs,
            len(plain_bomb) / 1024,
            len(chunks(chunked_bomb, b"x" * 8)),
            flood,
            kernel,
            describe_counts(counts),
        )
        res.check("qframe alive", q.alive())
        res.check(
            f"peak RSS {res.peak_rss_mib} MiB <= {RSS_BOUND_MIB} MiB",
            res.peak_rss_mib <= RSS_BOUND_MIB,
        )
        res.delivery_checks()
        exact = kernel == 0
        res.check(
            f"every bomb counted once ({bombs_counted} of {bombs})",
            bombs_counted == bombs if exact else bombs_counted <= bombs,
        )
        res.check(
            f"every flood message counted once ({flood_counted} of {flood})",
            flood_counted == flood if exact else flood_counted <= flood,
        )
        code = q.stop()
        res.check(f"clean stop (exit {code})", code == 0)
    finally:
        sock.close()
        q.close()
    return res
