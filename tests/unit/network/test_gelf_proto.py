"""GELF without I/O: reassembly in any order, bounds, hostile input, mapping to messages."""

from __future__ import annotations

import gzip
import os
import random
import struct
import tracemalloc
import zlib

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qframe.net.gelf import (
    CHUNK_MAGIC,
    DOCKER_FIELDS,
    MAX_CACHED_CONTAINERS,
    ChunkAssembler,
    GelfReject,
    decode_payload,
    parse_gelf,
    to_message,
)

MIB = 1 << 20


def chunks_of(payload: bytes, size: int, mid: bytes = b"\x01" * 8) -> list[bytes]:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    n = len(parts)
    return [CHUNK_MAGIC + mid + struct.pack("BB", i, n) + p for i, p in enumerate(parts)]


def compress(data: bytes, how: str) -> bytes:
    if how == "zlib":
        return zlib.compress(data)
    if how == "gzip":
        return gzip.compress(data)
    return data


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rejects:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, reason: str, n: int) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n


gelf_extra = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).map(lambda s: "_" + s),
    st.one_of(st.text(max_size=40), st.integers(-(2**40), 2**40), st.booleans()),
    max_size=6,
).filter(lambda d: "_id" not in d and not any(k in DOCKER_FIELDS for k in d))


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=3000),
    gelf_extra,
    st.sampled_from(["plain", "zlib", "gzip"]),
    st.integers(20, 900),
    st.randoms(use_true_random=False),
)
def test_a_chunked_message_is_reassembled_whatever_the_order_of_its_chunks(
    text: str, extra: dict[str, object], how: str, size: int, rnd: random.Random
) -> None:
    obj = {"version": "1.1", "host": "h1", "short_message": text, "level": 3, **extra}
    payload = compress(orjson.dumps(obj), how)
    parts = chunks_of(payload, size)
    assume(len(parts) <= 128)  # GELF's limit: more chunks is another test's case
    rnd.shuffle(parts)
    asm = ChunkAssembler()
    results = [asm.add(p) for p in parts]
    assert results[:-1] == [None] * (len(parts) - 1)
    assert results[-1] == payload
    assert len(asm) == 0 and asm.pending_bytes == 0
    m = to_message(parse_gelf(decode_payload(results[-1], 8 * MIB)), "gelf", "10.0.0.1", 99)
    assert m.message == text
    assert m.host == "h1" and m.level == 3
    assert m.fields == {
        **{k[1:]: v for k, v in extra.items()},
        "remote_ip": "10.0.0.1",
        "remote_port": 99,
    }


header = st.builds(
    lambda mid, seq, cnt, body: CHUNK_MAGIC + mid + bytes([seq, cnt]) + body,
    st.binary(min_size=8, max_size=8) | st.sampled_from([b"\0" * 8, b"\1" * 8]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=200),
)
datagram = st.one_of(st.binary(max_size=300), header, st.just(CHUNK_MAGIC), st.just(b"\x1f\x8b"))


@settings(max_examples=300, deadline=None)
@given(st.lists(datagram, max_size=60), st.integers(300, 5000))
def test_hostile_datagrams_only_ever_raise_a_reject_and_memory_stays_bounded(
    datagrams: list[bytes], bound: int
) -> None:
    clock = Clock()
    asm = ChunkAssembler(timeout=5, max_pending_bytes=bound, max_message_bytes=4096, clock=clock)
    for d in datagrams:
        clock.now += 0.3
        try:
            payload = asm.add(d)
            if payload is not None:
                parse_gelf(decode_payload(payload, 4096))
        except GelfReject as r:
            assert r.reason
        assert asm.pending_bytes <= bound


def test_a_flood_of_partial_chunks_evicts_the_oldest_and_stays_within_the_bound() -> None:
    rejects = Rejects()
    asm = ChunkAssembler(max_pending_bytes=MIB, on_reject=rejects)
    for i in range(50_000):
        mid = i.to_bytes(8, "big")
        assert asm.add(CHUNK_MAGIC + mid + bytes([0, 2]) + os.urandom(100)) is None
        assert asm.pending_bytes <= MIB
    assert rejects.counts["pending_overflow"] > 40_000
    # a fresh complete message still gets through
    good = orjson.dumps({"short_message": "still here"})
    out = [asm.add(c) for c in chunks_of(good, 10, b"fresh-id")]
    assert out[-1] == good


def test_incomplete_messages_expire_after_the_reassembly_timeout() -> None:
    clock, rejects = Clock(), Rejects()
    asm = ChunkAssembler(timeout=5, on_reject=rejects, clock=clock)
    parts = chunks_of(b'{"short_message":"x"}' * 10, 50)
    asm.add(parts[0])
    clock.now += 4.9
    assert asm.expire() == 0
    clock.now += 0.2
    assert asm.expire() == 1
    assert rejects.counts == {"incomplete": 1}
    assert asm.pending_bytes == 0
    # the late rest of it starts a new incomplete message rather than completing
    assert asm.add(parts[-1]) is None


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (CHUNK_MAGIC + b"12345678" + bytes([0, 0]) + b"x", "bad_chunk_count"),
        (CHUNK_MAGIC + b"12345678" + bytes([0, 129]) + b"x", "bad_chunk_count"),
        (CHUNK_MAGIC + b"12345678" + bytes([3, 3]) + b"x", "bad_chunk_sequence"),
        (CHUNK_MAGIC + b"1234", "bad_chunk"),
    ],
)
def test_bad_chunk_headers_are_rejected_with_their_reason(datagram: bytes, reason: str) -> None:
    with pytest.raises(GelfReject) as e:
        ChunkAssembler().add(datagram)
    assert e.value.reason == reason


def test_a_duplicate_chunk_is_rejected_and_the_message_still_completes() -> None:
    asm = ChunkAssembler()
    payload = b'{"short_message":"dup"}'
    a, b = chunks_of(payload, 12)
    assert asm.add(a) is None
    with pytest.raises(GelfReject, match="duplicate_chunk"):
        asm.add(a)
    assert asm.add(b) == payload


def test_a_chunk_whose_count_disagrees_drops_the_whole_message() -> None:
    asm = ChunkAssembler()
    asm.add(CHUNK_MAGIC + b"abcdefgh" + bytes([0, 3]) + b"x")
    with pytest.raises(GelfReject, match="chunk_count_mismatch"):
        asm.add(CHUNK_MAGIC + b"abcdefgh" + bytes([1, 4]) + b"y")
    assert len(asm) == 0 and asm.pending_bytes == 0


def test_a_chunked_message_beyond_the_size_limit_is_rejected() -> None:
    asm = ChunkAssembler(max_message_bytes=1000)
    parts = chunks_of(os.urandom(3000), 500)
    with pytest.raises(GelfReject, match="oversized"):
        for p in parts:
            asm.add(p)
    assert asm.pending_bytes == 0


@pytest.mark.parametrize("how", ["zlib", "gzip"])
def test_a_decompression_bomb_is_refused_without_inflating_it(how: str) -> None:
    bomb = compress(b"{" + b" " * (64 * MIB), how)
    assert len(bomb) < 200_000
    # the Python heap's peak (tracemalloc: every bytes object the inflation makes, whatever
    # else the machine runs): bounded by the limit (a growing output buffer takes about
    # twice it), far from the 64 MiB that inflating the whole bomb would take
    tracemalloc.start()
    try:
        with pytest.raises(GelfReject, match="decompression_bomb"):
            decode_payload(bomb, 8 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * MIB, f"peak {peak / MIB:.1f} MiB"


@pytest.mark.parametrize("how", ["zlib", "gzip", "plain"])
def test_a_payload_of_exactly_the_limit_passes_and_one_byte_more_does_not(how: str) -> None:
    limit = 64 * 1024
    at = b'{"short_message":"' + b"x" * (limit - 20) + b'"}'
    assert len(at) == limit
    assert decode_payload(compress(at, how), limit) == at
    over = at[:-2] + b'x"}'
    assert len(over) == limit + 1
    reason = "oversized" if how == "plain" else "decompression_bomb"
    with pytest.raises(GelfReject) as e:
        decode_payload(compress(over, how), limit)
    assert e.value.reason == reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"\x00\x01binary", "bad_magic"),
        (b"\x78\x9cnot really zlib", "bad_compression"),
        (b"\x1f\x8b\x08\x00garbage", "bad_compression"),
        (zlib.compress(b'{"short_message":"x"}')[:-6], "bad_compression"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"host": "h", "version": "1.1"}', "missing_field"),
        (b'{"short_message": ""}', "missing_field"),
    ],
)
def test_broken_payloads_are_rejected_with_their_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(GelfReject) as e:
        parse_gelf(decode_payload(payload, MIB))
    assert e.value.reason == reason


def test_an_uncompressed_payload_beyond_the_limit_is_oversized() -> None:
    with pytest.raises(GelfReject, match="oversized"):
        decode_payload(b"{" + b" " * 2000, 1000)


def test_docker_gelf_driver_fields_become_the_container() -> None:
    obj = {
        "version": "1.1",
        "host": "docker-host",
        "short_message": "GET / 200",
        "timestamp": 1764133200.25,
        "level": 6,
        "_container_id": "3f2a" * 16,
        "_container_name": "/web1",
        "_image_name": "nginx:1.25",
        "_image_id": "sha256:" + "ab" * 32,
        "_command": "nginx -g daemon off;",
        "_created": "2026-11-26T05:00:00.123456789Z",
        "_tag": "web1",
        "_id": "ignored",
    }
    m = to_message(obj, "gelf", "127.0.0.1", 4000)
    assert m.time == 1764133200.25
    assert m.container is not None
    assert m.container.id == "3f2a" * 16
    assert m.container.name == "web1"
    assert m.container.image == "nginx:1.25"
    assert m.container.image_id == "sha256:" + "ab" * 32
    assert m.container.command == "nginx -g daemon off;"
    assert m.container.created == "2026-11-26T05:00:00.123456789Z"
    assert m.fields == {"tag": "web1", "remote_ip": "127.0.0.1", "remote_port": 4000}
    assert m.source_path == ["gelf"]


def test_odd_levels_and_timestamps_fall_back_instead_of_failing() -> None:
    base = {"short_message": "x"}
    assert to_message({**base, "level": "3"}).level == 3
    assert to_message({**base, "level": 99}).level == 7
    assert to_message({**base, "level": "loud"}).level == 6
    assert to_message({**base, "timestamp": "nan"}, now=5.0).time == 5.0
    assert to_message({**base, "timestamp": 1764133200123}, now=5.0).time == 1764133200.123
    assert to_message({**base, "timestamp": [1]}, now=5.0).time == 5.0
    m = to_message({"short_message": 42, "full_message": "long"}, remote_ip="10.1.1.1")
    assert m.message == "42" and m.host == "10.1.1.1"
    assert m.fields["full_message"] == "long"


def test_levels_are_clamped_to_0_7_and_timestamps_taken_at_their_bounds() -> None:
    base = {"short_message": "x"}
    levels = {8: 7, -1: 0, "0": 0, "-3": 0, "7": 7, 0: 0, 7: 7, True: 1}
    for given_level, want in levels.items():
        assert to_message({**base, "level": given_level}).level == want, given_level
    times = {
        1: 1.0,  # an int, one second past the epoch
        0: 5.0,  # the epoch itself: no time
        "0.5": 0.5,
        1e11: 5.0,  # seconds too far, and not milliseconds either
        100000000000.5: 100000000000.5 / 1000,  # just past: milliseconds
        2e14: 5.0,  # milliseconds too far
        "1764133200.5": 1764133200.5,
    }
    for ts, want in times.items():
        assert to_message({**base, "timestamp": ts}, now=5.0).time == want, ts


def test_to_message_defaults_when_the_sender_and_the_object_leave_things_out() -> None:
    m = to_message({})
    assert (m.message, m.host, m.level, m.source_path, m.container) == ("", "", 6, [], None)
    assert m.fields == {}
    m = to_message({"short_message": "x"}, remote_ip="10.0.0.9")
    assert m.fields == {"remote_ip": "10.0.0.9", "remote_port": 0}
    assert to_message({"short_message": "x"}, source="udp").source_path == ["udp"]
    m = to_message({"short_message": "x", "host": 1234, "_": 1, "_a": 2, "b": 3})
    assert m.host == "1234"
    assert m.fields == {"_": 1, "a": 2, "b": 3}
    assert to_message({"short_message": "x", "timestamp": 0.0}, now=5.0).time == 5.0


def test_either_docker_field_makes_a_container_and_the_rest_default_to_empty() -> None:
    assert to_message({"short_message": "x", "_image_name": "img"}).container is None
    assert to_message({"short_message": "x"}).fields == {}
    for key, attr in (("_container_id", "id"), ("_container_name", "name")):
        c = to_message({"short_message": "x", key: "c1"}).container
        assert c is not None, key
        values = (c.id, c.name, c.image, c.image_id, c.command, c.created)
        assert values == tuple("c1" if a == attr else "" for a in DOCKER_FIELDS.values())
    numbers = {k: i for i, k in enumerate(DOCKER_FIELDS)}  # every one of them not a string
    c = to_message({"short_message": "x", **numbers}).container
    assert c is not None
    assert (c.id, c.name, c.image, c.image_id, c.command, c.created) == tuple("012345")


def test_the_container_cache_starts_over_when_it_holds_its_maximum() -> None:
    cache: dict[tuple[str, ...], object] = {
        (str(i),): object() for i in range(MAX_CACHED_CONTAINERS)
    }
    to_message({"short_message": "x", "_container_id": "new"}, containers=cache)  # type: ignore[arg-type]
    assert len(cache) == 1


def test_messages_of_one_container_share_one_container_record_and_the_cache_is_bounded() -> None:
    cache: dict[tuple[str, ...], object] = {}
    docker = {"short_message": "x", "_container_id": "c1", "_container_name": "/a", "_tag": "t"}
    a = to_message(dict(docker), containers=cache)  # type: ignore[arg-type]
    b = to_message(dict(docker), containers=cache)  # type: ignore[arg-type]
    other = to_message({**docker, "_container_id": "c2"}, containers=cache)  # type: ignore[arg-type]
    assert a.container is b.container and a.container is not None
    assert other.container is not None and other.container.id == "c2"
    for i in range(MAX_CACHED_CONTAINERS + 10):
        to_message({"short_message": "x", "_container_id": f"id{i}"}, containers=cache)  # type: ignore[arg-type]
    assert len(cache) <= MAX_CACHED_CONTAINERS
    odd = to_message({"short_message": "x", "_container_id": 12, "_container_name": None})
    assert odd.container is not None and (odd.container.id, odd.container.name) == ("12", "None")


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
gelf_keys = st.sampled_from(
    ["short_message", "host", "level", "timestamp", "version", "_id", "full_message", "_", "",
     *DOCKER_FIELDS, "_tag", "_x", "facility"]
) | st.text(max_size=10)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(gelf_keys, json_value, max_size=10))
def test_any_json_object_either_maps_to_a_message_or_is_rejected(obj: dict[str, object]) -> None:
    try:
        payload = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        payload = b""  # not representable as JSON (an integer beyond 64 bits): not sendable
    assume(payload)
    try:
        parsed = parse_gelf(decode_payload(payload, MIB))
    except GelfReject as r:
        assert r.reason in ("missing_field", "invalid_json")
        return
    m = to_message(parsed, "gelf", "10.0.0.1", 1, now=5.0, containers={})
    assert isinstance(m.message, str) and m.message
    assert 0 <= m.level <= 7
    assert m.time > 0
    m.to_json()  # the canonical JSON can always be written


def test_chunks_of_two_senders_with_the_same_message_id_do_not_mix() -> None:
    asm = ChunkAssembler()
    a = orjson.dumps({"short_message": "from a" * 20})
    b = orjson.dumps({"short_message": "from b" * 20})
    ca, cb = chunks_of(a, 40, b"same-id!"), chunks_of(b, 40, b"same-id!")
    assert len(ca) == len(cb)
    out_a: list[bytes | None] = []
    out_b: list[bytes | None] = []
    for x, y in zip(ca, cb, strict=True):
        out_a.append(asm.add(x, "10.0.0.1:5000"))
        out_b.append(asm.add(y, "10.0.0.2:5000"))
    assert (out_a[-1], out_b[-1]) == (a, b)
