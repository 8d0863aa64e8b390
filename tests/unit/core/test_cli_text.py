"""What `qframe plugins` prints is plain text: no reStructuredText markup on the terminal."""

from __future__ import annotations

import json

from click.testing import CliRunner

from qframe.cli import _first_line, main, plain


def test_plain_drops_inline_markup_and_literal_block_markers() -> None:
    assert plain("one ``log`` message per line (``\\n``)") == "one log message per line (\\n)"
    assert (
        plain("see :class:`FollowGuard` and :func:`~qframe.plugin.ack`")
        == "see FollowGuard and ack"
    )
    assert (
        plain("a `name` here; Example document::\n\n    {}")
        == "a name here; Example document:\n\n    {}"
    )


def test_the_summary_is_the_whole_first_paragraph() -> None:
    doc = """Matches a field (``message`` by default) against grok patterns and merges the
    captures into ``fields``.

    More."""
    assert _first_line(doc) == (
        "Matches a field (message by default) against grok patterns and merges the captures into fields."
    )


def test_plugins_lists_plain_one_line_summaries() -> None:
    res = CliRunner().invoke(main, ["plugins"])
    assert res.exit_code == 0
    assert "``" not in res.output and ":class:" not in res.output
    assert "one log message per line (\\n or \\r\\n)." in res.output
    as_json = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).output)
    grok = next(p for p in as_json["plugins"] if p["kind"] == "grok")
    assert grok["doc"].endswith("merges the captures into fields.")


def test_describe_prints_plain_text() -> None:
    res = CliRunner().invoke(main, ["plugins", "--describe", "docker-logs"])
    assert res.exit_code == 0
    assert "``" not in res.output and ":class:" not in res.output
    assert "(see FollowGuard)" in res.output
