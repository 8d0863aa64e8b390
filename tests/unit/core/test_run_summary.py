"""RunSummary: its line, what counts as lost, and the sum over reloaded pipelines."""

from __future__ import annotations

from collections import Counter

from qframe.runtime.summary import EXIT_UNDELIVERED, RunSummary


def test_the_line_names_reasons_and_instances_and_leaves_out_an_empty_disk_buffer() -> None:
    s = RunSummary(
        read=10,
        delivered=5,
        dead_lettered=1,
        dropped=Counter({"unsupported": 2, "filtered": 1}),
        undelivered=Counter({"handler.es": 1}),
    )
    assert s.line() == (
        "read 10, delivered 5, dead-lettered 1, dropped 3 (filtered 1, unsupported 2), "
        "undelivered 1 (handler.es 1)"
    )
    assert s.lost == 3  # a filter's own decision is not a loss
    assert "kept 4," in RunSummary(kept=4).line()


def test_filtered_messages_and_dead_letters_are_not_lost() -> None:
    s = RunSummary(read=3, delivered=1, dead_lettered=1, dropped=Counter({"filtered": 1}))
    assert s.lost == 0 and EXIT_UNDELIVERED == 3


def test_summaries_of_reloaded_pipelines_add_up() -> None:
    a = RunSummary(read=2, delivered=1, undelivered=Counter({"handler.es": 1}))
    b = RunSummary(read=3, delivered=3, dropped=Counter({"closed": 1}))
    assert (a + b).line() == (
        "read 5, delivered 4, dead-lettered 0, dropped 1 (closed 1), undelivered 1 (handler.es 1)"
    )
