"""The segment format under any sequence of appends, confirmations, crashes and restarts."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qframe.buffer.segment import Corrupt
from qframe.buffer.store import DiskStore, seg_name

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 6)),
        st.tuples(st.just("sync"), st.just(0)),
        st.tuples(st.just("confirm"), st.integers(1, 5)),
        st.tuples(st.just("persist"), st.just(0)),
        st.tuples(st.just("crash"), st.floats(0, 1)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=40,
)


def read_all(store: DiskStore) -> list[tuple[bytes, tuple[int, int]]]:
    cur = store.reader()
    out = []
    try:
        while (r := cur.next()) is not None:
            assert not isinstance(r, Corrupt), r
            out.append((r.payload, (cur.seg, r.end)))
    finally:
        cur.close()
    return out


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops, seg=st.integers(40, 400))
def test_no_fsynced_unconfirmed_record_lost(tmp_path_factory, ops, seg) -> None:
    d: Path = tmp_path_factory.mktemp("buf")
    store = DiskStore(d, segment_bytes=seg)
    store.open()
    serial = 0
    # the records the store holds, in order: [payload, pos, durable, confirmed, gone]
    live: list[list] = []
    for op, arg in ops:
        if op == "append":
            for _ in range(arg):
                serial += 1
                payload = f"rec-{serial}-".encode() * (serial % 3 + 1)
                live.append([payload, store.append(payload, 1), False, False])
        elif op == "sync":
            store.sync()
            for r in live:
                r[2] = True
        elif op == "confirm":
            todo = [r for r in live if not r[3]][:arg]
            for r in todo:
                r[3] = True
                store.confirm(r[1], 1)
        elif op == "persist":
            store.persist()
            mark = store.watermark
            live = [r for r in live if not (r[3] and r[1] <= mark)]
        elif op in ("crash", "restart"):
            if op == "crash":
                head, synced = store.head, store.synced
                size = store.segments[head]
                store.close(persist=False)
                cut = synced + int(arg * (size - synced))
                os.truncate(d / seg_name(head), cut)
                persisted = store._persisted
            else:
                store.close()
                persisted = store._persisted
            store = DiskStore(d, segment_bytes=seg)
            store.open()
            got = read_all(store)
            payloads = [p for p, _ in got]
            assert len(payloads) == len(set(payloads)), "a record came back twice"
            expect_present = [
                r[0] for r in live if (r[2] or op == "restart") and not (r[3] and r[1] <= persisted)
            ]
            may = {r[0] for r in live}
            assert set(expect_present) <= set(payloads), "a durable unconfirmed record was lost"
            assert set(payloads) <= may, "a record confirmed behind a persisted watermark came back"
            order = [r[0] for r in live if r[0] in set(payloads)]
            assert payloads == order
            live = [[p, pos, True, False] for p, pos in got]
    store.close()
