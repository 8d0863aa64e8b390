"""The bounded frame splitter: property tests against a reference model, and edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.net.framing import Framer


def model(data: bytes, limit: int, delim: bytes = b"\n") -> tuple[list[bytes], list[bool]]:
    """What a whole stream must give: every frame, cut to limit, and whether it was cut."""
    parts = data.split(delim)
    last = parts.pop()  # unterminated (possibly empty)
    if last:
        parts.append(last)
    return [p[:limit] for p in parts], [len(p) > limit for p in parts]


def run(framer: Framer, chunks: list[bytes]) -> tuple[list[bytes], list[bool]]:
    frames: list[bytes] = []
    cut: list[bool] = []
    for c in chunks:
        got = framer.feed(c)
        assert all(i < len(got) for i in framer.cut)
        cut.extend(i in framer.cut for i in range(len(got)))
        frames.extend(got)
        assert framer.pending <= framer.max_frame
    got = framer.finish()
    cut.extend(i in framer.cut for i in range(len(got)))
    frames.extend(got)
    return frames, cut


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in [*points, len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


stream = st.binary(max_size=600) | st.lists(
    st.sampled_from([b"a", b"bc", b"\n", b"\r", b"xyz" * 5, b"\x00", b"\xff\xfe"]), max_size=80
).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(stream, st.lists(st.integers(0, 10_000), max_size=12), st.integers(1, 40))
def test_any_chunking_of_a_stream_gives_the_frames_of_the_whole_stream(
    data: bytes, cuts: list[int], limit: int
) -> None:
    framer = Framer(limit, strip_cr=False)
    assert run(framer, split_at(data, cuts)) == model(data, limit)


@settings(max_examples=300, deadline=None)
@given(stream, st.lists(st.integers(0, 10_000), max_size=12))
def test_crlf_is_removed_wherever_the_chunks_split_the_stream(data: bytes, cuts: list[int]) -> None:
    framer = Framer(len(data) + 1, strip_cr=True)
    frames, cut = model(data, len(data) + 1)
    want = [f[:-1] if f.endswith(b"\r") else f for f in frames]
    if want and want[-1] == b"" and not data.endswith(b"\n"):  # a lone unterminated CR
        want.pop()
        cut.pop()
    assert run(framer, split_at(data, cuts)) == (want, cut)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(1, 64), st.booleans())
def test_arbitrary_bytes_never_raise_and_frames_stay_within_the_bound(
    chunks: list[bytes], limit: int, strip_cr: bool
) -> None:
    framer = Framer(limit, delimiter=b"\0", strip_cr=strip_cr)
    frames, _ = run(framer, chunks)
    assert all(len(f) <= limit for f in frames)
    assert b"\0" not in b"".join(frames)


def test_memory_stays_bounded_when_a_peer_never_sends_a_newline() -> None:
    framer = Framer(1000)
    heads = []
    for _ in range(1000):
        heads += framer.feed(b"x" * 4096)
        assert framer.pending <= 1000
    # the head of the endless line was delivered once, cut; the rest is skipped
    assert heads == [b"x" * 1000]
    assert framer.feed(b"tail\nnext\n") == [b"next"]


def test_crlf_endings_are_removed_and_a_lone_cr_is_kept() -> None:
    framer = Framer(100)
    assert framer.feed(b"a\r\nb\rc\n\r\n") == [b"a", b"b\rc", b""]
    assert framer.feed(b"last\r") == []
    assert framer.finish() == [b"last"]


def test_an_over_long_line_is_cut_and_flagged_and_the_next_line_is_whole() -> None:
    framer = Framer(5)
    assert framer.feed(b"0123456789\nok\n") == [b"01234", b"ok"]
    assert framer.cut == [0]
    assert framer.feed(b"fine\n") == [b"fine"]
    assert framer.cut == []


def test_finish_after_a_complete_stream_gives_nothing() -> None:
    framer = Framer(10)
    assert framer.feed(b"a\nb\n") == [b"a", b"b"]
    assert framer.finish() == []


@settings(max_examples=400, deadline=None)
@given(
    st.lists(stream | st.text(max_size=40).map(lambda t: t.encode()), max_size=8),
    st.integers(1, 200),
    st.booleans(),
)
def test_text_frames_are_the_decoded_byte_frames_whatever_the_path(
    chunks: list[bytes], limit: int, strip_cr: bool
) -> None:
    as_bytes, as_text = Framer(limit, strip_cr=strip_cr), Framer(limit, strip_cr=strip_cr)
    for c in chunks:
        want = [f.decode("utf-8", "replace") for f in as_bytes.feed(c)]
        assert as_text.feed_text(c) == want
        assert as_text.cut == as_bytes.cut
        assert as_text.pending == as_bytes.pending <= limit


def test_an_unfinished_line_grown_over_many_chunks_is_whole_and_can_be_discarded() -> None:
    framer = Framer(100)
    for part in (b"ab", b"cd", b"ef"):
        assert framer.feed(part) == []
    assert framer.pending == 6
    assert framer.feed(b"g\r\nh") == [b"abcdefg"]
    assert framer.feed(b"ij") == [] and framer.pending == 3
    assert framer.discard() == 3 and framer.pending == 0
    assert framer.feed(b"kl\nm") == []  # the rest of the discarded line is skipped
    assert framer.discard() == 1  # (m)
    assert framer.feed(b"rest\nnext\n") == [b"next"]
    assert framer.discard() == 0  # nothing held: nothing is skipped
    assert framer.feed(b"more\n") == [b"more"]
    assert framer.feed(b"x" * 60) == [] and framer.feed(b"y" * 60) == [b"x" * 60 + b"y" * 40]
    assert framer.cut == [0] and framer.pending == 0


def test_discarding_a_frame_held_in_pieces_counts_every_piece_and_reading_goes_on() -> None:
    framer = Framer(100_000)
    big = b"a" * 5000  # past SMALL: the next chunks are held as further pieces
    assert framer.feed(big) == [] and framer.feed(b"b" * 10) == []
    assert framer.pending == 5010
    assert framer.discard() == 5010 and framer.pending == 0
    assert framer.discard() == 0  # nothing held: nothing to skip either
    assert framer.feed(b"rest of it\n") == []
    # held in pieces again after the discard
    assert (
        framer.feed(big) == []
        and framer.feed(b"c" * 10) == []
        and framer.feed(b"d\n") == [big + b"c" * 10 + b"d"]
    )


def test_take_rest_hands_over_the_unfinished_frame_and_resets_the_framer() -> None:
    framer = Framer(100_000)
    assert framer.take_rest() == (b"", False)
    assert framer.feed(b"done\nhalf") == [b"done"]
    assert framer.take_rest() == (b"half", False)
    assert framer.pending == 0 and framer.finish() == []
    big = b"x" * 5000
    framer.feed(big)
    framer.feed(b"yz")
    assert framer.take_rest() == (big + b"yz", False)
    assert framer.pending == 0 and framer.feed(b"new\n") == [b"new"]


def test_take_rest_of_a_framer_skipping_an_over_long_frame_says_so_and_stops_skipping() -> None:
    framer = Framer(5)
    assert framer.feed(b"0123456789") == [b"01234"]
    assert framer.take_rest() == (b"", True)
    assert framer.feed(b"next\n") == [b"next"]  # the successor skips, this one no more


def test_skip_continues_a_predecessor_skipping_an_over_long_frames_tail() -> None:
    framer = Framer(5)
    framer.skip()
    assert framer.feed(b"tail") == []
    assert framer.feed(b" end\nnext\n") == [b"next"]


def test_a_crlf_split_between_chunks_and_a_skip_ended_by_the_first_byte() -> None:
    framer = Framer(100)
    assert framer.feed(b"ab\r") == []
    assert framer.feed(b"\ncd\n") == [b"ab", b"cd"]
    framer = Framer(3)
    assert framer.feed(b"toolong") == [b"too"]
    assert framer.feed(b"\nabc\n") == [b"abc"]


def test_pieces_of_a_held_frame_are_counted_and_bounded_to_the_byte() -> None:
    assert Framer(5).cut == []
    framer = Framer(100_000)
    framer.feed(b"a" * 5000)
    framer.feed(b"b")
    assert framer.take_rest() == (b"a" * 5000 + b"b", False)  # held in two pieces
    for piece in (b"x" * 5000, b"y" * 5000, b"z" * 5000):
        assert framer.feed(piece) == []
    assert framer.pending == 15_000
    assert framer.feed(b"\n") == [b"x" * 5000 + b"y" * 5000 + b"z" * 5000]
    framer = Framer(10)
    assert framer.feed(b"12345") == [] and framer.feed(b"67890") == []  # exactly the bound
    assert framer.feed(b"\n") == [b"1234567890"] and framer.cut == []
    framer = Framer(6000)
    framer.feed(b"x" * 5000)
    framer.feed(b"y" * 800)
    assert framer.feed(b"z" * 800) == [b"x" * 5000 + b"y" * 800 + b"z" * 200]
    assert framer.cut == [0]


def test_a_long_frame_after_a_short_one_in_a_chunk_is_cut() -> None:
    framer = Framer(5)
    assert framer.feed(b"ab\n0123456789\n") == [b"ab", b"01234"]
    assert framer.cut == [1]


def test_text_frames_skip_cut_and_keep_cr_like_byte_frames() -> None:
    framer = Framer(3)
    assert framer.feed_text(b"toolong") == ["too"]
    assert framer.feed_text(b"\nok\n") == ["ok"]  # skipping ends at the first byte
    framer = Framer(5)
    assert framer.feed_text(b"abcd") == []
    assert framer.feed_text(b"ef\n") == ["abcde"] and framer.cut == [0]
    framer = Framer(3)
    assert framer.feed_text(b"a\nwxyz") == ["a", "wxy"] and framer.cut == [1]
    assert Framer(100, strip_cr=False).feed_text(b"a\r\nb\n") == ["a\r", "b"]


# Examples of what the property tests above check, fixed so that each holds in every run
# (`make mutation` runs a quarter of the properties' examples; these do not depend on them)


def test_a_one_byte_bound_is_allowed_and_a_zero_bound_is_refused() -> None:
    framer = Framer(1)
    assert framer.feed(b"ab\nc\n") == [b"a", b"c"] and framer.cut == [0]
    with pytest.raises(ValueError):
        Framer(0)


def test_a_frame_of_exactly_the_bound_is_not_flagged_cut() -> None:
    framer = Framer(5)
    assert framer.feed(b"12345\n1234567\n") == [b"12345", b"12345"]
    assert framer.cut == [1]
    # an unfinished frame of exactly the bound after a delimiter is held whole, not cut
    assert framer.feed(b"ab\n12345") == [b"ab"] and framer.cut == []
    assert framer.pending == 5
    assert framer.feed(b"\n") == [b"12345"] and framer.cut == []


def test_finish_resets_the_cut_list_and_strips_only_a_trailing_cr() -> None:
    framer = Framer(3)
    assert framer.feed(b"abcdef\n") == [b"abc"] and framer.cut == [0]
    assert framer.finish() == [] and framer.cut == []
    framer = Framer(10)
    assert framer.feed(b"tail") == [] and framer.finish() == [b"tail"]
    framer = Framer(10, strip_cr=False)
    assert framer.feed(b"x\r") == [] and framer.finish() == [b"x\r"]


def test_text_frames_join_the_held_head_and_hold_what_follows_the_last_delimiter() -> None:
    framer = Framer(100)
    assert framer.feed_text(b"ab") == []
    assert framer.feed_text(b"c\nd\nef") == ["abc", "d"]
    assert framer.pending == 2 and framer.cut == []
    assert framer.finish() == [b"ef"]


def test_text_frames_reset_the_cut_list_of_the_call_before() -> None:
    framer = Framer(3)
    assert framer.feed_text(b"abcdef\n") == ["abc"] and framer.cut == [0]
    assert framer.feed_text(b"ok\n") == ["ok"] and framer.cut == []


def test_text_frames_replace_invalid_bytes_on_both_paths() -> None:
    framer = Framer(100)
    assert framer.feed_text(b"a\xff\nb\n") == ["a\ufffd", "b"]  # one decode of the block
    framer = Framer(3)
    assert framer.feed_text(b"\xff\xfe\xff\xfe\n") == ["\ufffd" * 3]  # cut: frame by frame
    assert framer.cut == [0]


def test_text_frames_lose_a_trailing_cr_and_keep_a_lone_one() -> None:
    framer = Framer(100)
    assert framer.feed_text(b"ab\r\nc\rd\n\r\n") == ["ab", "c\rd", ""]
    assert Framer(100).feed_text(b"no cr\nat all\n") == ["no cr", "at all"]
