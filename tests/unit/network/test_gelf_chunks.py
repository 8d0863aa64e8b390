"""GELF chunk reassembly at its exact bounds (qframe.net.gelf.ChunkAssembler): the memory
charged per message and per chunk, the size and pending limits to the byte, eviction and
expiry counts, and which bytes of a chunk header tell messages apart.
"""

from __future__ import annotations

import struct

import pytest

from qframe.net.gelf import CHUNK_MAGIC, MAX_CHUNKS, ChunkAssembler, GelfReject, decode_payload

ENTRY, CHUNK = 256, 64  # the overheads charged per pending message and per chunk


def chunk(mid: bytes, seq: int, count: int, data: bytes) -> bytes:
    return CHUNK_MAGIC + mid + struct.pack("BB", seq, count) + data


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rejects:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, n: int) -> None:
        self.calls.append((reason, n))


def test_pending_memory_is_the_data_plus_the_overheads_and_is_returned_at_the_end() -> None:
    asm = ChunkAssembler()
    mid = b"A" * 8
    assert asm.add(chunk(mid, 0, 3, b"x" * 10)) is None
    assert asm.pending_bytes == ENTRY + 10 + CHUNK
    assert asm.add(chunk(mid, 2, 3, b"z" * 20)) is None
    assert asm.pending_bytes == ENTRY + 10 + CHUNK + 20 + CHUNK
    assert asm.add(chunk(mid, 1, 3, b"y")) == b"x" * 10 + b"y" + b"z" * 20
    assert (asm.pending_bytes, len(asm)) == (0, 0)


def test_a_chunked_message_of_exactly_max_message_bytes_passes_and_one_more_does_not() -> None:
    for limit, fits in ((30, True), (29, False)):
        asm = ChunkAssembler(max_message_bytes=limit)
        mid = b"B" * 8
        assert asm.add(chunk(mid, 0, 3, b"a" * 10)) is None
        assert asm.add(chunk(mid, 1, 3, b"b" * 10)) is None
        if fits:
            assert asm.add(chunk(mid, 2, 3, b"c" * 10)) == b"a" * 10 + b"b" * 10 + b"c" * 10
        else:
            with pytest.raises(GelfReject) as e:
                asm.add(chunk(mid, 2, 3, b"c" * 10))
            assert e.value.reason == "oversized"
        assert (asm.pending_bytes, len(asm)) == (0, 0)


def test_a_chunk_of_just_its_header_is_an_empty_part() -> None:
    asm = ChunkAssembler()
    assert asm.add(chunk(b"C" * 8, 0, 1, b"")) == b""
    assert asm.add(chunk(b"C" * 8, 0, 2, b"")) is None
    assert asm.add(chunk(b"C" * 8, 1, 2, b"end")) == b"end"
    with pytest.raises(GelfReject) as e:
        asm.add(chunk(b"C" * 8, 0, 1, b"")[:-1])
    assert e.value.reason == "bad_chunk"


def test_a_message_of_the_most_chunks_allowed_is_reassembled() -> None:
    asm = ChunkAssembler()
    parts = [bytes([i]) for i in range(MAX_CHUNKS)]
    got = [asm.add(chunk(b"D" * 8, i, MAX_CHUNKS, p)) for i, p in enumerate(parts)]
    assert got[:-1] == [None] * (MAX_CHUNKS - 1)
    assert got[-1] == b"".join(parts)


def test_every_byte_of_the_message_id_and_the_sender_tell_messages_apart() -> None:
    asm = ChunkAssembler()
    zeros = b"\0" * 7
    ids = [b"\x01" + zeros, b"\x02" + zeros, zeros + b"\x09", zeros + b"\x0a"]
    for n, mid in enumerate(ids):
        assert asm.add(chunk(mid, 0, 2, b"head%d-" % n)) is None
    assert asm.add(chunk(ids[0], 0, 2, b"other"), sender="10.0.0.1:5") is None
    assert len(asm) == 5
    for n, mid in enumerate(ids):
        assert asm.add(chunk(mid, 1, 2, b"tail")) == b"head%d-tail" % n
    # the sender left out is the empty one
    assert asm.add(chunk(b"E" * 8, 0, 2, b"a")) is None
    assert asm.add(chunk(b"E" * 8, 1, 2, b"b"), sender="") == b"ab"


def test_a_chunk_that_fits_the_pending_bound_exactly_evicts_nothing() -> None:
    rejects = Rejects()
    asm = ChunkAssembler(max_pending_bytes=ENTRY + 10 + CHUNK, on_reject=rejects)
    assert asm.add(chunk(b"F" * 8, 0, 2, b"x" * 10)) is None
    assert (len(asm), rejects.calls) == (1, [])
    assert asm.pending_bytes == ENTRY + 10 + CHUNK


def test_room_is_made_by_evicting_as_many_of_the_oldest_as_needed_counted_once() -> None:
    rejects = Rejects()
    one = ENTRY + 10 + CHUNK
    asm = ChunkAssembler(max_pending_bytes=3 * one, on_reject=rejects)
    for mid in (b"1" * 8, b"2" * 8, b"3" * 8):
        assert asm.add(chunk(mid, 0, 2, b"x" * 10)) is None
    assert (len(asm), asm.pending_bytes, rejects.calls) == (3, 3 * one, [])
    # a new message (256 + 100 + 64 bytes) needs the room of the two oldest
    assert asm.add(chunk(b"4" * 8, 0, 2, b"y" * 100)) is None
    assert rejects.calls == [("pending_overflow", 2)]
    assert len(asm) == 2 and asm.pending_bytes <= 3 * one
    assert asm.add(chunk(b"3" * 8, 1, 2, b"!")) == b"x" * 10 + b"!"  # the youngest is kept
    assert asm.add(chunk(b"1" * 8, 1, 2, b"!")) is None  # the oldest is gone: a new start


def test_a_chunk_too_big_for_the_bound_evicts_its_own_message_and_says_so() -> None:
    rejects = Rejects()
    asm = ChunkAssembler(max_pending_bytes=1000, on_reject=rejects)
    assert asm.add(chunk(b"G" * 8, 0, 2, b"x" * 10)) is None
    assert asm.add(chunk(b"G" * 8, 1, 2, b"y" * 2000)) is None
    assert rejects.calls == [("pending_overflow", 1)]
    assert (len(asm), asm.pending_bytes) == (0, 0)


def test_a_message_expires_at_the_timeout_to_the_tick_and_expiries_are_counted() -> None:
    clock, rejects = Clock(), Rejects()
    asm = ChunkAssembler(on_reject=rejects, clock=clock)  # the default timeout: 5 s
    asm.add(chunk(b"H" * 8, 0, 2, b"a"))
    asm.add(chunk(b"I" * 8, 0, 2, b"b"))
    clock.now += 2.0
    asm.add(chunk(b"J" * 8, 0, 2, b"c"))
    clock.now = 1000.0 + 4.5
    assert asm.expire() == 0
    clock.now = 1000.0 + 5.0
    assert asm.expire() == 2
    assert rejects.calls == [("incomplete", 2)]
    assert len(asm) == 1 and asm.pending_bytes == ENTRY + 1 + CHUNK
    clock.now = 1002.0 + 5.0
    assert asm.add(chunk(b"K" * 8, 0, 1, b"whole")) == b"whole"  # add expires too
    assert rejects.calls == [("incomplete", 2), ("incomplete", 1)]
    assert len(asm) == 0


def test_clear_forgets_everything_pending() -> None:
    asm = ChunkAssembler()
    asm.add(chunk(b"L" * 8, 0, 2, b"a"))
    asm.add(chunk(b"M" * 8, 0, 3, b"b"))
    asm.clear()
    assert (len(asm), asm.pending_bytes) == (0, 0)
    assert asm.add(chunk(b"L" * 8, 1, 2, b"z")) is None  # its head went with the rest
    assert asm.pending_bytes == ENTRY + 1 + CHUNK


def test_a_message_evicting_itself_stops_there_and_leaves_the_younger_ones() -> None:
    rejects = Rejects()
    asm = ChunkAssembler(max_pending_bytes=1000, on_reject=rejects)
    assert asm.add(chunk(b"B" * 8, 0, 2, b"x" * 10)) is None
    assert asm.add(chunk(b"C" * 8, 0, 2, b"y" * 10)) is None
    assert asm.add(chunk(b"B" * 8, 1, 2, b"z" * 2000)) is None
    assert rejects.calls == [("pending_overflow", 1)]
    assert len(asm) == 1 and asm.add(chunk(b"C" * 8, 1, 2, b"!")) == b"y" * 10 + b"!"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x1fzz", "bad_magic"),  # gzip's first byte alone is no gzip
        (b"x", "bad_magic"),  # zlib's first byte alone is no zlib
        (b"\x78\x9c", "bad_compression"),  # a zlib header and nothing after it
        (b"Xyz", "bad_magic"),
        (CHUNK_MAGIC + b"abc", "bad_chunk"),
    ],
)
def test_what_a_payload_starts_with_decides_how_it_is_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(GelfReject) as e:
        decode_payload(payload, 1000)
    assert e.value.reason == reason


def test_json_whose_first_bytes_look_like_a_zlib_or_gzip_header_is_json() -> None:
    for payload in (b"{e}", b"{\x8b}"):  # (0x7b * 256 + ord("e")) % 31 == 0, like zlib's
        assert decode_payload(payload, 1000) == payload
