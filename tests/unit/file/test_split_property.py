"""Property: however a file is cut into reads, the messages are the file's lines."""

from __future__ import annotations

import asyncio
import codecs
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .helpers import harness

LIMIT = 16
PIECES = [b"a", b"bc", b"\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\r", b"\n", b"\n", b"0123456789"]


def expected(data: bytes) -> list[tuple[int, str, bool]]:
    """(offset, text, cut) of every complete, non-blank line, as the collector defines them."""
    out = []
    pos = 0
    for raw in data.split(b"\n")[:-1]:
        n = len(raw) + 1
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line:
            cut = len(line) > LIMIT
            if cut:  # a character cut in two at the limit is left out
                text = codecs.getincrementaldecoder("utf-8")("replace").decode(raw[:LIMIT])
            else:
                text = line.decode("utf-8", "replace")
            out.append((pos, text, cut))
        pos += n
    return out


async def collect(data: bytes, read_bytes: int) -> list[tuple[int, str, bool]]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        f = tmp / "app.log"
        f.write_bytes(data)
        want = expected(data)
        async with harness(
            tmp,
            path=str(f),
            start_position="beginning",
            max_line_bytes=LIMIT,
            read_bytes=read_bytes,
        ) as h:
            coll = h.plugin("files")
            await h.wait_for(
                lambda: (
                    len(h.captured("out")) >= len(want)
                    and all(p.committed == len(data) for p in coll.progress.values())
                ),
                what="every line, committed",
            )
            return [
                (m.fields["offset"], m.message, "_truncated" in m.tags) for m in h.captured("out")
            ]


@example(pieces=[b"a", *[b"\xc3\xa9"] * 12], read_bytes=24)  # a cut inside a character
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=60),
    read_bytes=st.integers(min_value=1, max_value=24),
)
def test_any_read_size_gives_the_same_lines_offsets_and_cuts(
    pieces: list[bytes], read_bytes: int
) -> None:
    data = b"".join(pieces) + b"\n"
    got = asyncio.run(collect(data, read_bytes))
    assert got == expected(data)


ML_PIECES = [b"E", b" ", b"x", b"\n", b"\n", b"\r\n"]


async def collect_multiline(data: bytes, read_bytes: int, match: str) -> list[tuple[int, str]]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        f = tmp / "app.log"
        f.write_bytes(data)
        ml = {"pattern": "^E", "negate": True, "match": match, "timeout": "20ms"}
        async with harness(
            tmp, path=str(f), start_position="beginning", read_bytes=read_bytes, multiline=ml
        ) as h:
            coll = h.plugin("files")
            await h.wait_for(
                lambda: (
                    all(p.committed == len(data) for p in coll.progress.values())
                    and bool(coll.progress)
                ),
                what="everything committed",
            )
            return [(m.fields["offset"], m.message) for m in h.captured("out")]


def multiline_expected(data: bytes, match: str) -> list[tuple[int, str]]:
    """Group the lines of the whole file at once (negated ^E: E starts/ends a message)."""
    groups: list[tuple[int, list[str]]] = []
    pos = 0
    pending: list[tuple[int, str]] = []
    for raw in data.split(b"\n")[:-1]:
        line = (raw[:-1] if raw.endswith(b"\r") else raw).decode()
        if match == "after":
            if line.startswith("E") or not groups:
                groups.append((pos, [line]))
            else:
                groups[-1][1].append(line)
        else:
            pending.append((pos, line))
            if line.startswith("E"):
                groups.append((pending[0][0], [t for _, t in pending]))
                pending = []
        pos += len(raw) + 1
    if pending:
        groups.append((pending[0][0], [t for _, t in pending]))
    return [(off, "\n".join(lines).rstrip("\n")) for off, lines in groups]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(ML_PIECES), min_size=1, max_size=40),
    read_bytes=st.integers(min_value=1, max_value=12),
    match=st.sampled_from(["after", "before"]),
)
def test_multiline_groups_do_not_depend_on_read_size(
    pieces: list[bytes], read_bytes: int, match: str
) -> None:
    data = b"E" + b"".join(pieces) + b"\n"
    got = asyncio.run(collect_multiline(data, read_bytes, match))
    assert got == multiline_expected(data, match)
