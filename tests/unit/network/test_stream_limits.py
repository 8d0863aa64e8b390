"""StreamServer's bound on the bytes all connections hold together, on its own."""

from __future__ import annotations

from typing import Any

from qframe.net.stream import Connection, StreamServer


class RecordingTransport:
    """Stands in for the event loop's transport: records pause/resume of reading."""

    def __init__(self) -> None:
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
        return ("10.0.0.1", 5000) if name == "peername" else None


def server(max_buffered: int) -> StreamServer:
    async def on_frames(conn: Connection, frames: list[Any], cut: list[int]) -> None:
        pass

    def spawn(coro: Any, name: str) -> Any:
        coro.close()  # the per-connection task is not run: the test drives the connection

        class Done:
            def add_done_callback(self, cb: Any) -> None:
                pass

        return Done()

    return StreamServer(
        on_frames, spawn, max_frame=1 << 20, high_water=10_000, max_buffered=max_buffered
    )


def connect(srv: StreamServer) -> tuple[Connection, RecordingTransport]:
    conn = Connection(srv)
    t = RecordingTransport()
    conn.connection_made(t)  # type: ignore[arg-type]
    return conn, t


def test_reading_pauses_above_the_total_and_resumes_once_half_of_it_was_taken() -> None:
    srv = server(max_buffered=1000)
    a, ta = connect(srv)
    b, tb = connect(srv)
    a.data_received(b"x" * 600)
    assert ta.reading and srv.buffered == 600
    b.data_received(b"y" * 500)  # the total crosses 1,000: the reader stops
    assert not tb.reading and srv.buffered == 1100
    a.data_received(b"x" * 10)  # over the total: the next reader stops too
    assert not ta.reading
    assert a._take() == [b"x" * 600, b"x" * 10]
    a._resume()  # its own buffer is empty, but the total (500) is not below half of 1,000
    assert not ta.reading and srv.buffered == 500
    assert b._take() == [b"y" * 500]  # the total drops to 0: held connections resume
    assert ta.reading and srv.buffered == 0
    b._resume()
    assert tb.reading


def test_a_connection_over_its_own_high_water_waits_for_its_own_buffer() -> None:
    srv = server(max_buffered=1 << 30)
    a, ta = connect(srv)
    a.data_received(b"x" * (srv.high_water + 1))
    assert not ta.reading
    a._resume()  # still holding all of it
    assert not ta.reading
    a._take()
    a._resume()
    assert ta.reading


def test_a_closed_connection_is_no_longer_held() -> None:
    srv = server(max_buffered=100)
    a, ta = connect(srv)
    b, _ = connect(srv)
    a.data_received(b"x" * 200)
    a._take()
    b.data_received(b"y" * 200)
    a._resume()
    assert a in srv._held
    a.connection_lost(None)
    assert a not in srv._held
    b._take()  # releasing does not touch the lost connection
    assert not ta.reading
