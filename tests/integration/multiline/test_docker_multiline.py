"""docker-logs with multiline presets against real Podman containers, across a SIGKILL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from qframe.testing import wait_until
from tests.integration.file.helpers import QframeRun, json_lines
from tests.services.podman import PodmanService

N = 120
JAVA = (
    (
        "i=0; while [ $i -lt N ]; do echo out $i; "
        "printf 'java.lang.IllegalStateException: trace %%d\\n\\tat a.B.c(B.java:1)\\n"
        "\\tat a.B.main(B.java:2)\\nCaused by: java.io.IOException: x\\n\\t... 2 more\\n' $i; "
        "echo err $i >&2; printf 'java.lang.RuntimeException: etrace %%d\\n\\tat e.F.g(F.java:9)\\n' "
        "$i >&2; i=$((i+1)); sleep 0.05; done; echo done; sleep 3600"
    )
    .replace("%%", "%")
    .replace("-lt N", f"-lt {N}")
)
PYTHON = (
    (
        "i=0; while [ $i -lt N ]; do echo pout $i; "
        'printf \'Traceback (most recent call last):\\n  File "app.py", line %%d, in <module>\\n'
        "    main()\\nValueError: ptrace %%d\\n\\nDuring handling of the above exception, "
        "another exception occurred:\\n\\nTraceback (most recent call last):\\n"
        '  File "app.py", line 9, in <module>\\nRuntimeError: chained %%d\\n\' $i $i $i >&2; '
        "echo perr $i >&2; "
        "i=$((i+1)); sleep 0.05; done; echo pdone; sleep 3600"
    )
    .replace("%%", "%")
    .replace("-lt N", f"-lt {N}")
)


def java_expected() -> Counter[tuple[str, str]]:
    want: Counter[tuple[str, str]] = Counter()
    for i in range(N):
        want["stdout", f"out {i}"] += 1
        want[
            "stdout",
            f"java.lang.IllegalStateException: trace {i}\n\tat a.B.c(B.java:1)\n"
            "\tat a.B.main(B.java:2)\nCaused by: java.io.IOException: x\n\t... 2 more",
        ] += 1
        want["stderr", f"err {i}"] += 1
        want["stderr", f"java.lang.RuntimeException: etrace {i}\n\tat e.F.g(F.java:9)"] += 1
    want["stdout", "done"] += 1
    return want


def python_expected() -> Counter[tuple[str, str]]:
    want: Counter[tuple[str, str]] = Counter()
    for i in range(N):
        want["stdout", f"pout {i}"] += 1
        want[
            "stderr",
            f'Traceback (most recent call last):\n  File "app.py", line {i}, in <module>\n'
            f"    main()\nValueError: ptrace {i}\n\n"
            "During handling of the above exception, another exception occurred:\n\n"
            'Traceback (most recent call last):\n  File "app.py", line 9, in <module>\n'
            f"RuntimeError: chained {i}",
        ] += 1
        want["stderr", f"perr {i}"] += 1
    want["stdout", "pdone"] += 1
    return want


def by_id(out: Path, source: str, container: str) -> dict[str, dict[str, Any]]:
    """The delivered messages of one collector and container, keyed by id (a replay after
    the SIGKILL comes with the same id and must be the same message)."""
    got: dict[str, dict[str, Any]] = {}
    for d in json_lines(out):
        if d["source_path"][0] != source or d.get("container", {}).get("name") != container:
            continue
        old = got.setdefault(d["id"], d)
        assert old["message"] == d["message"], f"id {d['id']} came with two texts"
    return got


async def test_traces_are_joined_per_stream_and_survive_a_sigkill(
    podman: PodmanService, tmp_path: Path
) -> None:
    java, py = podman.unique("java"), podman.unique("py")
    out = tmp_path / "out.json"
    ml = {"timeout": "300ms"}
    common = {"docker-host": podman.docker_host, "from-beginning": True, "rescan": "1s"}
    run = QframeRun(
        tmp_path,
        {
            "tick": "100ms",
            "data-dir": str(tmp_path / "data"),
            "collector": {
                "java-logs": {
                    "kind": "docker-logs",
                    **common,
                    "multiline": {"preset": "java", **ml},
                },
                "py-logs": {
                    "kind": "docker-logs",
                    **common,
                    "multiline": {"preset": "python", **ml},
                },
            },
            "handler": {
                "out": {
                    "kind": "log",
                    "inputs": ["java-logs", "py-logs"],
                    "format": "json",
                    "path": str(out),
                }
            },
        },
    )
    podman.run(java, "sh", "-c", JAVA)
    podman.run(py, "sh", "-c", PYTHON)
    try:
        run.start()
        await wait_until(lambda: len(by_id(out, "java-logs", java)) >= 40, timeout=60)
        await wait_until(
            lambda: (tmp_path / "data/collector.java-logs/positions.json").exists(), timeout=20
        )
        run.kill()
        run.start()

        def finished() -> bool:
            j = {d["message"] for d in by_id(out, "java-logs", java).values()}
            p = {d["message"] for d in by_id(out, "py-logs", py).values()}
            return "done" in j and "pdone" in p

        await wait_until(finished, timeout=90, what="both containers' last lines")
        assert run.stop() == 0, run.stderr()[-3000:]
    finally:
        run.stop()
        podman.rm(java, py)
    for source, name, want in (
        ("java-logs", java, java_expected()),
        ("py-logs", py, python_expected()),
    ):
        got = by_id(out, source, name)
        texts = Counter((d["fields"]["stream"], d["message"]) for d in got.values())
        assert texts == want, (source, want - texts, texts - want)
        for d in got.values():
            n = d["message"].count("\n") + 1
            assert d["fields"].get("lines", 1) == n


BOUNDS = (
    "echo 'Exception: many'; i=0; while [ $i -lt 200 ]; do printf '\\tat x.y(Z.java:%d)\\n' $i; "
    "i=$((i+1)); done; echo end1; echo 'Exception: wide'; printf '\\tat '; "
    "head -c 10000 /dev/zero | tr '\\0' w; echo; printf '\\tat after.wide(W.java:1)\\n'; "
    "echo end2; echo 'Exception: short'; printf '\\tat s.t(S.java:1)\\n'; echo bdone; sleep 3600"
)


async def test_docker_logs_multiline_bounds_cut_tag_and_keep_the_next_lines(
    podman: PodmanService, tmp_path: Path
) -> None:
    """max-lines and max-bytes on docker-logs: a trace longer than either is cut at the
    bound and tagged ``_truncated`` (its lines past the bound are dropped, as in every
    collector's multiline); the line after the trace starts the next message, nothing of
    what follows is lost, and a trace within the bounds is whole and untagged."""
    name = podman.unique("bounds")
    out = tmp_path / "out.json"
    opts = {"preset": "java", "max-lines": 50, "max-bytes": "4KiB", "timeout": "300ms"}
    run = QframeRun(
        tmp_path,
        {
            "tick": "100ms",
            "data-dir": str(tmp_path / "data"),
            "collector": {
                "logs": {
                    "kind": "docker-logs",
                    "docker-host": podman.docker_host,
                    "from-beginning": True,
                    "rescan": "1s",
                    "multiline": opts,
                },
            },
            "handler": {
                "out": {"kind": "log", "inputs": ["logs"], "format": "json", "path": str(out)}
            },
        },
    )
    podman.run(name, "sh", "-c", BOUNDS)
    try:
        run.start()

        def mine() -> list[dict[str, Any]]:
            return [d for d in json_lines(out) if d.get("container", {}).get("name") == name]

        await wait_until(
            lambda: any(d["message"] == "bdone" for d in mine()), timeout=60, what="bdone"
        )
        assert run.stop() == 0, run.stderr()[-3000:]
    finally:
        run.stop()
        podman.rm(name)
    got = mine()
    assert [d["message"].split("\n")[0] for d in got] == [
        "Exception: many",
        "end1",
        "Exception: wide",
        "end2",
        "Exception: short",
        "bdone",
    ]
    many, end1, wide, end2, short, done = got
    assert many["message"] == "\n".join(
        ["Exception: many", *(f"\tat x.y(Z.java:{i})" for i in range(49))]
    )
    assert many["fields"]["lines"] == 50 and many["tags"] == ["_truncated"]
    # max-bytes: the first line, and of the wide one what fits in 4 KiB with it
    assert len(wide["message"].encode()) <= 4096 and wide["tags"] == ["_truncated"]
    assert wide["message"].startswith("Exception: wide\n\tat www")
    assert "after.wide" not in wide["message"]
    assert short["message"] == "Exception: short\n\tat s.t(S.java:1)" and "tags" not in short
    for d in (end1, end2, done):
        assert "tags" not in d and "lines" not in d["fields"]
