"""(f) Hostile configs (issue #21, defect 5): each must be refused by ``qframe validate``
with exit 2 and a one-line reason naming the file, no traceback,
within 10 s and 256 MiB.

- billion laughs: nine levels of aliases, each nine times the one below (9⁹ leaves);
- a recursive alias (an anchor inside itself);
- duplicate keys (a second ``handler:``, a key twice in one instance) — YAML's last
  one wins silently, which hides an edit.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from chaos.common import QFRAME, Context, Result

NAME = "config_hazards"
TITLE = "billion laughs, recursive alias, duplicate keys → exit 2 within 10 s / 256 MiB"
DEFECT = "5"

TIME_BOUND = 10.0
RSS_BOUND_MIB = 256

PIPELINE = """collector:
  in: {kind: tcp, bind-host: 127.0.0.1, bind-port: 11999}
handler:
  out: {kind: log, inputs: [in]}
"""


def laughs() -> str:
    rows = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 10):
        rows.append(f"l{k}: &l{k} [" + ",".join([f"*l{k - 1}"] * 9) + "]")
    return (
        "\n".join(rows)
        + "\ncollector:\n  in: {kind: tcp, bind-host: 127.0.0.1, bind-port: 11999}\n"
        + "handler:\n  out: {kind: log, inputs: [in], format: *l9}\n"
    )


CASES = {
    "billion-laughs": laughs(),
    "recursive-alias": PIPELINE + "filter:\n  loop: &loop {kind: id, inputs: [in], x: *loop}\n",
    "recursive-alias-list": "x: &a [*a]\n" + PIPELINE,
    "duplicate-section": PIPELINE + "handler:\n  other: {kind: log, inputs: [in]}\n",
    "duplicate-option": PIPELINE.replace(
        "{kind: log, inputs: [in]}", "{kind: log, inputs: [in], format: json, format: text}"
    ),
}


def run_bounded(cmd: list[str], log: Path) -> tuple[int | None, float, float, str]:
    """(exit code or None when killed at the time bound, seconds, peak RSS MiB, output)."""
    t0 = time.monotonic()
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    pid = proc.pid
    code: int | None = None
    rss = 0.0
    while True:
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got:
            code = os.waitstatus_to_exitcode(status)
            rss = ru.ru_maxrss / 1024
            break
        if time.monotonic() - t0 > TIME_BOUND:
            proc.kill()
            _, _, ru = os.wait4(pid, 0)
            rss = ru.ru_maxrss / 1024
            break
        time.sleep(0.02)
    proc.returncode = code if code is not None else -9
    with open(log, "rb") as f:
        out = f.read(1 << 20).decode(errors="replace")
    return code, time.monotonic() - t0, rss, out


def run(ctx: Context) -> Result:
    res = Result(NAME)
    peak = 0.0
    refused = 0
    for name, text in CASES.items():
        path: Path = ctx.tmp / f"{name}.yml"
        path.write_text(text)
        cmd = [QFRAME, "validate", "-c", str(path)]
        code, secs, rss, out = run_bounded(cmd, ctx.tmp / f"{name}.out")
        peak = max(peak, rss)
        lines = out.strip().splitlines() or [""]
        said = next((ln for ln in lines if "error" in ln.lower()), lines[-1])
        ctx.say("%s: exit %s in %.1fs, %.0f MiB: %s", name, code, secs, rss, said)
        ok = code == 2 and "Traceback" not in out and path.name in out and rss <= RSS_BOUND_MIB
        refused += ok
        res.check(
            f"{name}: exit {code if code is not None else 'killed'} in {secs:.1f}s, "
            f"{rss:.0f} MiB{', traceback' if 'Traceback' in out else ''}",
            ok,
        )
        res.note("%s: %s", name, said.strip()[:160])
    res.note("%d of %d hostile configs refused as intended", refused, len(CASES))
    res.peak_rss_mib = round(peak, 1)
    return res
