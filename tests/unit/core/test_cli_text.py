"""What `qframe plugins` prints is plain text: no reStructuredText markup on the terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qframe.cli import first_line, plain

# a process of its own: the command sets up logging for the whole process
QFRAME = str(Path(sys.executable).with_name("qframe"))


def qframe(*args: str) -> tuple[int, str]:
    res = subprocess.run([QFRAME, *args], capture_output=True, timeout=60)
    return res.returncode, res.stdout.decode()


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
    assert first_line(doc) == (
        "Matches a field (message by default) against grok patterns and merges the captures into fields."
    )


def test_plugins_lists_plain_one_line_summaries() -> None:
    code, out = qframe("plugins")
    assert code == 0
    assert "``" not in out and ":class:" not in out
    assert "one log message per line (\\n or \\r\\n)." in out
    as_json = json.loads(qframe("plugins", "--json")[1])
    grok = next(p for p in as_json["plugins"] if p["kind"] == "grok")
    assert grok["doc"].endswith("merges the captures into fields.")


def test_describe_prints_plain_text() -> None:
    code, out = qframe("plugins", "--describe", "docker-logs")
    assert code == 0
    assert "``" not in out and ":class:" not in out
    assert "(see FollowGuard)" in out
