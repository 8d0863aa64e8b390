"""What a collector's worker process sends the main process (``workers: N``, issue #14):
a read of plain lines (tcp) and a batch of lines with their own ids and fields (file) come
back as the same messages, in order; a batch that is neither takes the general encoding;
and the file collector's workers' checkpoint reports merge into one checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qframe.batch import UniformBatch, json_lines, new_logs
from qframe.message import Delivery, Message, SharedFields, fields_of
from qframe.plugins.collectors.file.collector import FileCollector, share_of
from qframe.runtime.collector_worker import LINES, RECORDS, _plain_lines, _records
from qframe.runtime.sharing import _lines as decode_lines
from qframe.runtime.sharing import _records as decode_records

texts = st.lists(
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",))),
    min_size=1,
    max_size=20,
)
#: a uniform batch's texts are not empty (UniformBatch's promise; tcp keeps it)
full_texts = st.lists(
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), min_size=1),
    min_size=1,
    max_size=20,
)


def canonical(batch: list[Message]) -> list[dict]:
    return [json.loads(m.to_json()) for m in batch]


@given(full_texts)
@settings(max_examples=60, deadline=None)
def test_a_read_of_plain_lines_comes_back_the_same(lines: list[str]) -> None:
    batch = UniformBatch(
        new_logs(lines, 1.5, "10.0.0.1", "tcp", SharedFields(remote_ip="10.0.0.1", remote_port=9))
    )
    wire = _plain_lines(batch)
    assert wire is not None
    got = decode_lines(wire, 0)
    assert type(got) is UniformBatch
    assert canonical(got) == canonical(batch)
    assert json_lines(got) == json_lines(list(batch))


def test_a_read_that_is_not_plain_takes_the_general_way() -> None:
    batch = UniformBatch(new_logs(["a", "b"], 1.0, "h", "tcp"))
    batch[0].add_tag("_truncated")  # (a uniform batch's messages differ only in their text)
    assert _plain_lines(batch) is None
    batch = UniformBatch(new_logs(["a\nb", "c"], 1.0, "h", "tcp"))
    assert _plain_lines(batch) is None


@given(
    texts,
    st.lists(
        st.dictionaries(
            st.text(max_size=5),
            st.one_of(st.integers(-(2**62), 2**62), st.text(max_size=8), st.none()),
            max_size=3,
        ),
        min_size=20,
        max_size=20,
    ),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_lines_with_their_own_ids_and_fields_come_back_the_same(
    lines: list[str], fields: list[dict], same_time: bool
) -> None:
    batch = []
    for i, text in enumerate(lines):
        m = Message(text, time=5.0 if same_time else 5.0 + i, host="web1")
        m.id = f"abc-{i}"
        m.source_path = ["file"]
        if fields[i]:
            m.fields = dict(fields[i])
        batch.append(m)
    wire = _records(batch)
    assert wire is not None
    got = decode_records(wire, 0)
    assert canonical(got) == canonical(batch)
    assert json_lines(got) == json_lines(batch)
    assert [fields_of(m) for m in got] == [m._fields or None for m in batch]


def test_records_refuse_what_they_cannot_carry() -> None:
    m = Message("x", host="h")
    m.source_path = ["file"]
    m.fields = {"big": 2**70}  # not JSON for orjson
    assert _records([m]) is None
    m = Message("x", host="h")
    m.source_path = ["file"]
    m.add_tag("_truncated")
    assert _records([m]) is None
    m = Message("x", host="h")
    m.source_path = ["file"]
    m.ack = Delivery(1, None)  # a token is the frame's business, not the columns'
    assert _records([m]) is not None
    assert RECORDS & LINES == 0


def test_the_workers_checkpoint_reports_merge_the_owner_first(tmp_path: Path) -> None:
    def rec(path: str, ino: int, offset: int) -> dict:
        return {
            "path": path,
            "dev": 1,
            "ino": ino,
            "fp": "0" * 32,
            "fp_len": 16,
            "offset": offset,
            "size": offset,
            "seen": 0,
        }

    owner = share_of(1, 7, 2)
    reports: list[list[dict]] = [[], []]
    reports[owner] = [rec("/a", 7, 100)]
    reports[1 - owner] = [rec("/a", 7, 50), rec("/b", 8 if share_of(1, 8, 2) != owner else 9, 5)]
    FileCollector.write_shared_reports(tmp_path, reports)
    files = json.loads((tmp_path / "checkpoints.json").read_text())["files"]
    assert {(r["path"], r["offset"]) for r in files} == {("/a", 100), ("/b", 5)}


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_every_file_has_one_worker(count: int) -> None:
    owners = [share_of(64768, ino, count) for ino in range(1000, 1064)]
    assert set(owners) == set(range(count))
