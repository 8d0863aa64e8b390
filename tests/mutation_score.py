"""`make mutation`'s summary: mutmut's results as a score per module, and the survivors.

Run after ``mutmut run`` (from the repository root): reads ``mutmut results --all true``
(one ``<module>.<function>__mutmut_<n>: <status>`` line per mutant) and prints a Markdown
table — killed (a test failed, or the mutant hung past the timeout) over the mutants that
were checked — then every mutant that survived or that no test reached, for
``mutmut show NAME``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {"killed", "timeout"}
NAME = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def module_of(mutant: str) -> str:
    """``qframe.net.framing.xǁFramerǁfeed__mutmut_3`` → ``qframe.net.framing``."""
    for marker in (".xǁ", ".x_"):
        i = mutant.find(marker)
        if i > 0:
            return mutant[:i]
    return mutant.rsplit(".", 1)[0]


def main() -> int:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    left: list[tuple[str, str]] = []
    for line in out.splitlines():
        m = NAME.match(line)
        if m is None or "__mutmut_" not in m["name"]:
            continue
        status = m["status"]
        counts[module_of(m["name"])][status] += 1
        if status in ("survived", "no tests", "suspicious"):
            left.append((m["name"], status))
    if not counts:
        print("no mutmut results: run `mutmut run` first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | survived | no test reached | not checked | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    for mod in sorted(counts):
        c = counts[mod]
        total.update(c)
        print(row(mod, c))
    print(row("**all**", total))
    if left:
        print(f"\n{len(left)} mutants not killed (`mutmut show NAME` shows each):")
        for name, status in left:
            print(f"  {name}: {status}")
    return 0


def row(mod: str, c: Counter[str]) -> str:
    n = sum(c.values())
    killed = sum(c[s] for s in KILLED)
    unchecked = c["not checked"] + c["skipped"]
    checked = n - unchecked
    score = f"{100 * killed / checked:.0f} %" if checked else "-"
    return (
        f"| {mod} | {n} | {killed} | {c['survived'] + c['suspicious']} | {c['no tests']} "
        f"| {unchecked} | {score} |"
    )


if __name__ == "__main__":
    sys.exit(main())
