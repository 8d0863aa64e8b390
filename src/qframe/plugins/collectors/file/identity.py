"""File identity: device + inode + a fingerprint of the first bytes.

The fingerprint is fixed when the file is first read (``fp_len`` = how many leading
bytes were hashed, at most ``fingerprint-bytes``), so a file keeps its identity while
it grows; a new file that got a recycled inode number has different first bytes and
is read from its start.  ``uid`` is the short hash used as the prefix of message ids.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["Identity", "fingerprint", "read_head"]


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def read_head(fd: int, n: int) -> bytes:
    """Up to ``n`` bytes from the start of the open file ``fd`` (does not move its offset)."""
    out = b""
    while len(out) < n:
        chunk = os.pread(fd, n - len(out), len(out))
        if not chunk:
            break
        out += chunk
    return out


class Identity:
    __slots__ = ("dev", "fp", "fp_len", "ino", "uid")

    def __init__(self, dev: int, ino: int, fp: str, fp_len: int) -> None:
        self.dev = dev
        self.ino = ino
        self.fp = fp
        self.fp_len = fp_len
        self.uid = hashlib.blake2b(f"{dev}:{ino}:{fp_len}:{fp}".encode(), digest_size=8).hexdigest()

    @classmethod
    def of(cls, dev: int, ino: int, head: bytes) -> Identity:
        return cls(dev, ino, fingerprint(head), len(head))

    def matches(self, head: bytes) -> bool:
        """Does a file whose first bytes are ``head`` still hold the content we know?"""
        return len(head) >= self.fp_len and fingerprint(head[: self.fp_len]) == self.fp

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and self.uid == other.uid

    def __hash__(self) -> int:
        return hash(self.uid)

    def __repr__(self) -> str:
        return f"Identity(dev={self.dev}, ino={self.ino}, fp={self.fp[:8]}…/{self.fp_len})"
