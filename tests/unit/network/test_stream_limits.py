"""StreamServer's bound on the bytes all connections hold together, on its own.

The tests drive the connections by hand (reads, framing, hand-over) as the event loop and
the per-connection task would, so that every step of the accounting can be checked.
"""

from __future__ import annotations

from typing import Any

from qframe.net.stream import READ_OVERHEAD as R
from qframe.net.stream import Connection, StreamServer


class RecordingTransport:
    """Stands in for the event loop's transport: records pause/resume of reading."""

    def __init__(self, port: int = 5000) -> None:
        self.port = port
        self.reading = True
        self.closed = False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("10.0.0.1", self.port) if name == "peername" else None


def server(max_buffered: int, cuts: list[tuple[int, int]] | None = None) -> StreamServer:
    async def on_frames(conn: Connection, frames: list[Any], cut: list[int]) -> None:
        pass

    def spawn(coro: Any, name: str) -> Any:
        coro.close()  # the per-connection task is not run: the test drives the connection

        class Done:
            def add_done_callback(self, cb: Any) -> None:
                pass

        return Done()

    def on_cut(conn: Connection, n: int) -> None:
        if cuts is not None:
            cuts.append((conn.port, n))

    return StreamServer(
        on_frames,
        spawn,
        max_frame=1 << 20,
        high_water=10_000,
        max_buffered=max_buffered,
        on_cut=on_cut,
    )


def connect(srv: StreamServer, port: int = 5000) -> tuple[Connection, RecordingTransport]:
    conn = Connection(srv)
    t = RecordingTransport(port)
    conn.connection_made(t)  # type: ignore[arg-type]
    return conn, t


def handed_on(conn: Connection) -> list[bytes]:
    """One turn of the connection's task: frame what was read, hand it on, resume."""
    frames, _ = conn._frame()
    conn._handed_on()
    conn._resume()
    return frames


def held_by_connections(srv: StreamServer) -> int:
    return sum(c._size + c._inflight + c.framer.pending for c in srv.connections)


def test_a_trickle_of_tiny_reads_is_counted_with_its_objects_and_held_in_few_pieces() -> None:
    srv = server(max_buffered=1 << 30)
    a, _ = connect(srv)
    for _ in range(10_000):
        a.data_received(b"z")
    assert srv.buffered == 10_000 * (1 + R)  # read, not framed: one object per read
    handed_on(a)
    assert srv.buffered == srv.partial == 10_000
    assert len(a.framer._parts) <= 3  # joined into pieces of 4 KiB, not 10,000 objects
    a.data_received(b"\n")
    assert handed_on(a) == [b"z" * 10_000]


def test_at_the_total_every_connection_stops_and_resumes_once_half_of_it_was_taken() -> None:
    srv = server(max_buffered=1000)
    a, ta = connect(srv)
    b, tb = connect(srv)
    _, tc = connect(srv)
    a.data_received(b"x" * 299 + b"\n")  # each read counts R bytes more, for its object
    assert ta.reading and srv.buffered == 300 + R
    b.data_received(b"y" * 599 + b"\n")  # the total crosses 1,000: every reader stops
    assert not (ta.reading or tb.reading or tc.reading) and srv.buffered == 900 + 2 * R
    assert a._frame() == ([b"x" * 299], [])
    assert srv.buffered == 900 + 2 * R  # framed, but the pipeline has not taken it yet
    a._handed_on()
    a._resume()  # its own buffer is empty, but the total (600 + R) is not below half of 1,000
    assert not ta.reading and srv.buffered == 600 + R
    assert handed_on(b) == [b"y" * 599]  # the total drops to 0: held connections resume
    assert ta.reading and tb.reading and tc.reading and srv.buffered == 0


def test_a_connection_over_its_own_high_water_waits_for_its_own_buffer() -> None:
    srv = server(max_buffered=1 << 30)
    a, ta = connect(srv)
    a.data_received(b"x" * srv.high_water + b"\n")
    assert not ta.reading
    a._resume()  # still holding all of it
    assert not ta.reading
    handed_on(a)
    assert ta.reading


def test_a_closed_connection_is_no_longer_held() -> None:
    srv = server(max_buffered=100)
    a, ta = connect(srv)
    b, _ = connect(srv)
    a.data_received(b"x" * 199 + b"\n")
    handed_on(a)
    b.data_received(b"y" * 199 + b"\n")
    a._resume()
    assert a in srv._held
    a.connection_lost(None)
    assert a not in srv._held
    handed_on(b)  # releasing does not touch the lost connection
    assert not ta.reading


def test_unfinished_lines_are_counted_until_their_newline_comes() -> None:
    srv = server(max_buffered=1 << 20)
    a, _ = connect(srv)
    a.data_received(b"one\ntwo, unfini")
    assert handed_on(a) == [b"one"]
    assert srv.buffered == srv.partial == len(b"two, unfini") == held_by_connections(srv)
    a.data_received(b"shed\n")
    assert handed_on(a) == [b"two, unfinished"]
    assert srv.buffered == srv.partial == 0


def test_beyond_half_the_total_the_largest_unfinished_line_is_discarded() -> None:
    cuts: list[tuple[int, int]] = []
    srv = server(max_buffered=1000, cuts=cuts)
    a, _ = connect(srv, 1)
    b, _ = connect(srv, 2)
    c, _ = connect(srv, 3)
    a.data_received(b"a" * 300)
    b.data_received(b"b" * 150)
    handed_on(a)
    handed_on(b)
    assert srv.partial == 450 and not cuts
    c.data_received(b"c" * 100)  # 550 unfinished: more than half of 1,000
    handed_on(c)
    assert cuts == [(1, 300)] and srv.cuts == 1
    assert srv.partial == srv.buffered == 250 == held_by_connections(srv)
    a.data_received(b"a" * 50 + b"\nnext\n")  # the rest of the discarded line is skipped
    assert handed_on(a) == [b"next"]
    b.data_received(b"\n")  # the others are whole
    c.data_received(b"\n")
    assert handed_on(b) == [b"b" * 150] and handed_on(c) == [b"c" * 100]
    assert srv.buffered == srv.partial == 0


def test_reading_resumes_when_every_connection_holds_an_unfinished_line() -> None:
    """Pausing alone would wait for ever: nothing the pipeline takes frees an unfinished line."""
    cuts: list[tuple[int, int]] = []
    srv = server(max_buffered=1000, cuts=cuts)
    conns = [connect(srv, p) for p in range(1, 6)]
    for conn, _ in conns:
        conn.data_received(b"z" * 240)  # the total is reached: every reader stops
    assert not any(t.reading for _, t in conns)
    for conn, _ in conns:
        handed_on(conn)
    assert [n for _, n in cuts] == [240, 240, 240]  # two lines fit in half of the total
    assert srv.buffered == srv.partial == 480 == held_by_connections(srv)
    assert all(t.reading for _, t in conns)  # and what they hold leaves room to read


def test_a_finished_connection_gives_back_everything_it_held() -> None:
    srv = server(max_buffered=1000)
    a, _ = connect(srv)
    b, _ = connect(srv)
    a.data_received(b"unfinished")
    handed_on(a)
    b.data_received(b"read, not framed\n")
    for conn in (a, b):
        conn._forget()
    assert srv.buffered == srv.partial == 0 and not srv._held
