"""The compiled library run by Debian's own Python (3.11.2 on Debian 12, which the
container image runs): the same matches and captures as here.

CPython before 3.11.5 gets possessive repeats wrong (gh-106052); the compiler emits
atomic groups instead, and this test runs its output under ``/usr/bin/python3.11`` (or
``$QFRAME_SYSTEM_PYTHON``) in one subprocess, comparing every result with this
interpreter's.  Skipped when that interpreter is not installed (CI: it is, Debian 12).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any

import pytest

from qframe.grok import Grok, PatternLibrary
from qframe.grok.engine import FLAGS

from .examples import CAPTURES, EXAMPLES

SYSTEM_PYTHON = os.environ.get("QFRAME_SYSTEM_PYTHON") or shutil.which(
    "python3.11", path="/usr/bin"
)

# reads [[regex, text], ...] on stdin, prints [[span, groups] or null, ...]
_RUNNER = """
import json, re, sys
out = []
for rx, text in json.load(sys.stdin)["cases"]:
    m = re.compile(rx, %d).search(text)
    out.append(None if m is None else [list(m.span()), list(m.groups())])
raw = re.fullmatch("(?:ab?c)*+", "a") is not None
json.dump({"version": list(sys.version_info[:3]), "raw_bug": raw, "results": out}, sys.stdout)
"""


def _cases() -> list[tuple[str, str]]:
    lib = PatternLibrary()
    cases: list[tuple[str, str]] = []
    for name, (good, bad) in EXAMPLES.items():
        rx = Grok(rf"\A%{{{name}}}\z", lib).regex
        cases += [(rx, t) for t in good + bad]
    for pattern, text, _ in CAPTURES:
        cases.append((Grok(pattern, lib).regex, text))
    gh = Grok(r"\A(?:ab?c)*+\z", lib).regex
    cases += [(gh, "a"), (gh, "abcac"), (gh, "ab")]
    qs = Grok(r"%{QS:q}", lib).regex
    cases += [(qs, '"a\\"b" c'), (qs, '"unterminated \\"'), (qs, "'x' `y`")]
    return cases


@pytest.mark.skipif(SYSTEM_PYTHON is None, reason="no /usr/bin/python3.11 on this machine")
def test_the_compiled_library_matches_the_same_under_the_system_python() -> None:
    cases = _cases()
    proc = subprocess.run(
        [str(SYSTEM_PYTHON), "-I", "-c", _RUNNER % FLAGS],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, Any] = json.loads(proc.stdout)
    here = []
    for rx, text in cases:
        found = re.compile(rx, FLAGS).search(text)
        here.append(None if found is None else [list(found.span()), list(found.groups())])
    diff = [
        (rx[:80], text, want, got)
        for (rx, text), want, got in zip(cases, here, report["results"], strict=True)
        if want != got
    ]
    assert diff == []
    gh = cases.index((Grok(r"\A(?:ab?c)*+\z").regex, "a"))
    assert report["results"][gh] is None and report["results"][gh + 1] is not None
    # the trap is real there: the raw possessive form is wrong on that interpreter
    if tuple(report["version"]) < (3, 11, 5):
        assert report["raw_bug"] is True
    assert sys.version_info >= (3, 11)
