"""The multiline presets on the traces they are named for: each trace is one message,
the line after it starts the next; a trace longer than the bounds is cut and flagged."""

from __future__ import annotations

from typing import Any

import pytest

from qframe.plugins.common.multiline import Multiline, MultilineOptions

JAVA = [
    "java.lang.IllegalStateException: boom",
    "\tat com.example.A.f(A.java:3)",
    "\tat com.example.Main.main(Main.java:9)",
    "Caused by: java.io.IOException: gone",
    "\tat com.example.B.g(B.java:5)",
    "\t... 2 more",
    "\tSuppressed: java.lang.Exception: also",
    "\t\tat com.example.C.h(C.java:7)",
]
PYTHON = [
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "    main()",
    "    raise KeyError(k)",
    "KeyError: 'k'",
]
GO = [
    "panic: runtime error: index out of range [3] with length 3",
    "",
    "goroutine 1 [running]:",
    "main.handler(0xc000012345)",
    "\t/app/main.go:12 +0x1d",
    "main.main()",
    "\t/app/main.go:5 +0x25",
    "exit status 2",
]


def joined(preset: str | dict[str, Any], lines: list[str]) -> list[tuple[str, bool, int]]:
    ml = Multiline(MultilineOptions.model_validate(preset))
    out: list[Any] = []
    for i, ln in enumerate(lines):
        ml.feed(ln, i, i + 1, out)
    last = ml.flush()
    if last is not None:
        out.append(last)
    return [(text, dropped, n) for text, _off, _end, dropped, n in out]


@pytest.mark.parametrize(("preset", "trace"), [("java", JAVA), ("python", PYTHON), ("go", GO)])
def test_a_trace_is_one_message_between_ordinary_lines(preset: str, trace: list[str]) -> None:
    lines = ["before", *trace, "after 1", "after 2"]
    got = joined(preset, lines)
    assert got == [
        ("before", False, 1),
        ("\n".join(trace).rstrip("\n"), False, len(trace)),
        ("after 1", False, 1),
        ("after 2", False, 1),
    ]


@pytest.mark.parametrize("preset", ["java", "python", "go"])
def test_an_unbounded_trace_is_cut_at_max_lines_and_flagged(preset: str) -> None:
    trace = {"java": JAVA, "python": PYTHON, "go": GO}[preset]
    body = trace[1:3] * 200  # continuation lines without end
    got = joined({"preset": preset, "max-lines": 5}, [trace[0], *body, "after"])
    (text, dropped, n), after = got
    assert n == 5 and dropped and text == "\n".join([trace[0], *body[:4]]).rstrip("\n")
    assert after == ("after", False, 1)


CHAINED = [
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in load',
    "    return cache[k]",
    "KeyError: 'k'",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "app.py", line 5, in load',
    "    raise LookupError(k) from None",
    "LookupError: k",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "app.py", line 9, in <module>',
    "    main()",
    "RuntimeError: cannot load",
]


def test_a_chained_python_traceback_is_one_message() -> None:
    got = joined("python", ["before", *CHAINED, "after"])
    assert got == [
        ("before", False, 1),
        ("\n".join(CHAINED), False, len(CHAINED)),
        ("after", False, 1),
    ]


def test_python_tracebacks_one_after_another_stay_apart() -> None:
    """Only the chaining sentence carries the next Traceback line: two traces printed one
    after the other (even with a blank line between) are two messages, and a sentence at the
    end of a trace carries one line only, not the ones after it."""
    lines = [*PYTHON, "", *PYTHON, "During handling of the above exception", "x", "y"]
    got = joined("python", lines)
    assert got == [
        ("\n".join(PYTHON), False, len(PYTHON) + 1),
        ("\n".join([*PYTHON, "During handling of the above exception", "x"]), False, 7),
        ("y", False, 1),
    ]


def test_continue_after_is_an_option_of_its_own() -> None:
    opts = {"pattern": r"^\s", "continue-after": r"\\$"}
    got = joined(opts, ["a \\", "", "b", "  c", "d"])
    assert got == [("a \\\n\nb\n  c", False, 4), ("d", False, 1)]
    with pytest.raises(ValueError, match="invalid regular expression"):
        MultilineOptions.model_validate({"pattern": "x", "continue-after": "("})
