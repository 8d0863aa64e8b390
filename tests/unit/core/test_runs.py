"""Reads merged by the channel keep where each one ends (Runs): json_lines takes each whole."""

from __future__ import annotations

import asyncio

from qframe.batch import Runs, UniformBatch, clip_ends, json_lines, new_logs, read_ends
from qframe.message import SharedFields
from qframe.runtime.channel import Channel


def _read(tag: str, n: int, t: float) -> UniformBatch:
    return UniformBatch(new_logs([f"{tag} {i}" for i in range(n)], t, "h", "src"))


def _get(ch: Channel) -> list:  # type: ignore[type-arg]
    return asyncio.run(ch.get())  # type: ignore[arg-type]


def test_merged_reads_are_runs_with_their_ends() -> None:
    ch = Channel(10_000)
    for b in (_read("a", 3, 1.0), _read("b", 2, 2.0), _read("c", 4, 3.0)):
        assert ch.put_nowait(b)
    got = _get(ch)
    assert type(got) is Runs and got.ends == [3, 5, 9]
    assert [m.message for m in got][:4] == ["a 0", "a 1", "a 2", "b 0"]
    assert json_lines(got) == b"".join(m.to_json() + b"\n" for m in got)


def test_runs_merged_again_and_any_other_batch_makes_a_plain_list() -> None:
    ch = Channel(10_000)
    ch.put_nowait(Runs([*_read("a", 2, 1.0), *_read("b", 2, 2.0)], [2, 4]))
    ch.put_nowait(_read("c", 1, 3.0))
    got = _get(ch)
    assert type(got) is Runs and got.ends == [2, 4, 5]
    ch.put_nowait(_read("d", 2, 1.0))
    ch.put_nowait(new_logs(["plain"], 1.0, "h", "src"))
    ch.put_nowait(_read("e", 2, 1.0))  # a read after the plain batch: still a plain list
    got = _get(ch)
    assert type(got) is list and [m.message for m in got] == ["d 0", "d 1", "plain", "e 0", "e 1"]


def test_a_read_taken_alone_comes_out_as_the_read_it_went_in_as() -> None:
    """Nothing to merge (no batch after it, or it is max_messages long already): the
    read itself, a UniformBatch still (not Runs, not a copy)."""
    ch = Channel(10_000)
    alone = _read("a", 3, 1.0)
    ch.put_nowait(alone)
    assert _get(ch) is alone
    full, after = _read("b", 4, 1.0), _read("c", 1, 2.0)
    ch.put_nowait(full)
    ch.put_nowait(after)
    assert asyncio.run(ch.get(max_messages=4)) is full  # type: ignore[arg-type]
    assert _get(ch) is after


def test_json_lines_of_runs_whose_first_message_is_not_plain() -> None:
    """A read whose first message has tags (a broken promise) is encoded message by
    message, and the reads after it whole: the same bytes as the plain model."""
    a = _read("a", 3, 1.0)
    a[0].add_tag("x")
    b = UniformBatch(new_logs(["b 0", "b 1"], 2.0, "h", "src", SharedFields(k="v")))
    batch = Runs([*a, *b], [3, 5])
    for m in batch:
        m.id = f"id-{m.message}"
    assert json_lines(batch) == b"".join(m.to_json() + b"\n" for m in batch)


def test_read_ends_and_clip_ends() -> None:
    assert read_ends(_read("a", 3, 1.0)) == [3]
    assert read_ends(UniformBatch()) == []
    assert read_ends([]) is None
    assert clip_ends([3, 5, 9], 0, 9, 0) == [3, 5, 9]
    assert clip_ends([3, 5, 9], 4, 8, 10) == [11, 14]
    assert clip_ends([3, 5, 9], 3, 5, 0) == [2]
