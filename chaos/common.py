"""What every chaos scenario shares: the qframe process, its metrics and health, peak RSS,
loopback clients and the result row.

A scenario is a module in ``chaos/scenarios/`` with ``NAME``, ``TITLE``, ``DEFECT`` (the
issue #21 item it reproduces, or ``""`` for one that already held) and
``run(ctx: Context) -> Result``.  It drives the real ``qframe run`` (a subprocess with its
own config, data dir and ops port) with real clients on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QFRAME = str(Path(sys.executable).with_name("qframe"))
ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


class Skip(Exception):
    """A service the scenario needs is not available here."""


@dataclass
class Context:
    """What the runner gives a scenario: a scratch directory and the scale."""

    tmp: Path
    quick: bool = False
    verbose: bool = False

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def scalef(self, full: float, quick: float) -> float:
        return quick if self.quick else full

    def say(self, fmt: str, *args: object) -> None:
        if self.verbose:
            print("   ", fmt % args if args else fmt, file=sys.stderr, flush=True)


@dataclass
class Result:
    """One row of the table.  ``counted``: losses qframe reported with a reason."""

    name: str
    sent: int | None = None
    delivered: int | None = None
    duplicated: int | None = None
    counted: int | None = None
    peak_rss_mib: float | None = None
    seconds: float = 0.0
    checks: list[tuple[str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    error: str = ""

    @property
    def lost(self) -> int | None:
        if self.sent is None or self.delivered is None:
            return None
        return max(0, self.sent - self.delivered)

    def check(self, what: str, ok: bool) -> bool:
        self.checks.append((what, bool(ok)))
        return bool(ok)

    def note(self, fmt: str, *args: object) -> None:
        self.notes.append(fmt % args if args else fmt)

    @property
    def status(self) -> str:
        if self.skipped:
            return "SKIP"
        if self.error:
            return "ERROR"
        return "PASS" if self.checks and all(ok for _, ok in self.checks) else "FAIL"

    def failed_checks(self) -> list[str]:
        return [w for w, ok in self.checks if not ok]

    def delivery_checks(self, allow_counted: bool = True) -> None:
        """The loss rule: every loss must be one qframe counted (with a reason)."""
        lost = self.lost or 0
        if allow_counted:
            self.check(
                f"loss ({lost}) counted by qframe ({self.counted or 0})",
                lost <= (self.counted or 0),
            )
        else:
            self.check(f"no loss ({lost})", lost == 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "sent": self.sent,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "counted": self.counted,
            "peak_rss_mib": self.peak_rss_mib,
            "seconds": round(self.seconds, 1),
            "checks": [{"check": w, "ok": ok} for w, ok in self.checks],
            "notes": self.notes,
            "skipped": self.skipped,
            "error": self.error,
        }


# -- small helpers --------------------------------------------------------------------
def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``cond`` until true (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


async def await_for(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)


def rss_of(pid: int, key: str = "VmHWM") -> int:
    """``VmHWM`` (peak) or ``VmRSS`` of a live process in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# -- the destination: numbered lines ---------------------------------------------------
SEQ = re.compile(r"chaos-(\w+)-(\d{9})")


def line(tag: str, i: int, pad: int = 40) -> str:
    """The i-th line of a client: ``chaos-<tag>-<9 digits> xxxx``."""
    return f"chaos-{tag}-{i:09d} " + "x" * (pad + i % 23)


def tally(texts: Iterable[str], tag: str) -> Counter[int]:
    """How often each line number of ``tag`` arrived."""
    c: Counter[int] = Counter()
    for t in texts:
        m = SEQ.search(t)
        if m and m.group(1) == tag:
            c[int(m.group(2))] += 1
    return c


def settle(
    count: Callable[[], int], target: int, timeout: float, quiet: float = 1.0, stall: float = 6.0
) -> int:
    """Wait until ``count()`` reaches ``target`` (then ``quiet`` s more for late duplicates)
    or stops growing for ``stall`` s, within ``timeout``; the last count."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = count()
        if n != last:
            last, since = n, time.monotonic()
        if n >= target and time.monotonic() - since >= quiet:
            return n
        if n < target and time.monotonic() - since >= stall:
            return n
        time.sleep(0.1)
    return count()


def fill(result: Result, counts: Counter[int], sent: int) -> None:
    """sent / delivered (distinct, in range) / duplicated from a tally."""
    result.sent = sent
    result.delivered = sum(1 for i in counts if 0 <= i < sent)
    result.duplicated = sum(n - 1 for i, n in counts.items() if 0 <= i < sent and n > 1)


# -- metrics ---------------------------------------------------------------------------
_SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for raw in text.splitlines():
        if not raw or raw.startswith("#"):
            continue
        m = _SAMPLE.match(raw)
        if m:
            labels = dict(_LABEL.findall(m.group(2) or ""))
            with contextlib.suppress(ValueError):
                out.append((m.group(1), labels, float(m.group(3))))
    return out


# -- qframe ----------------------------------------------------------------------------
class Qframe:
    """``qframe run`` with its own config, data dir and ops port; peak RSS over all runs.

    ``config`` is a dict (written as JSON, which is YAML); ``http`` and ``data-dir`` are
    filled in.  ``counted()`` sums ``qframe_dropped_total`` and ``qframe_rejected_total``
    over every run (read just before each stop or kill).
    """

    def __init__(self, tmp: Path, config: dict[str, Any], name: str = "qframe") -> None:
        self.tmp = tmp
        self.name = name
        self.port = free_port()
        self.conf = tmp / f"{name}.yml"
        self.config = config
        config.setdefault("http", f"127.0.0.1:{self.port}")
        config.setdefault("data-dir", str(tmp / f"{name}-data"))
        config.setdefault("log", {"level": "info"})
        self.write_config()
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.peak_kib = 0
        self._past_counts: Counter[str] = Counter()
        self._last_counts: Counter[str] = Counter()
        self._sampler: threading.Thread | None = None
        self._sampling = False

    @property
    def data_dir(self) -> Path:
        return Path(self.config["data-dir"])

    def write_config(self, config: dict[str, Any] | None = None) -> None:
        if config is not None:
            self.config = config
        tmp = self.conf.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.config, indent=1))
        tmp.replace(self.conf)

    # -- life --------------------------------------------------------------------------
    def start(self, ready_timeout: float = 30.0) -> None:
        """Start and wait until ``/health`` answers (RuntimeError if it exits first)."""
        self.runs += 1
        err = open(self.tmp / f"{self.name}-{self.runs}.stderr", "wb")
        self.proc = subprocess.Popen(
            [QFRAME, "run", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=self.tmp,
            start_new_session=True,
        )
        err.close()
        self._last_counts = Counter()
        self._start_sampler()
        if not wait_for(lambda: self.health() is not None or not self.alive(), ready_timeout):
            raise RuntimeError(f"qframe did not answer /health within {ready_timeout}s")
        if not self.alive():
            raise RuntimeError(f"qframe exited at start: {self.stderr()[-2000:]}")

    def _start_sampler(self) -> None:
        self._sampling = True
        proc = self.proc
        assert proc is not None

        def sample() -> None:
            while self._sampling and proc.poll() is None:
                self.peak_kib = max(self.peak_kib, rss_of(proc.pid))
                time.sleep(0.05)

        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def _end_run(self) -> None:
        self._sampling = False
        if self._sampler is not None:
            self._sampler.join(2)
        self._past_counts += self._last_counts
        self._last_counts = Counter()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (after reading its counters and peak RSS)."""
        assert self.proc is not None
        self.refresh_counts()
        self.peak_kib = max(self.peak_kib, rss_of(self.proc.pid))
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._end_run()

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        p = self.proc
        if p is None:
            return 0
        if p.poll() is None:
            self.refresh_counts()
            self.peak_kib = max(self.peak_kib, rss_of(p.pid))
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._end_run()
        return int(p.returncode)

    def hup(self, timeout: float = 15.0) -> bool:
        """SIGHUP and wait until the log says the reload ended (True) or ``timeout``."""
        assert self.proc is not None
        before = self._reload_ends()
        self.proc.send_signal(signal.SIGHUP)
        return wait_for(lambda: self._reload_ends() > before, timeout)

    def _reload_ends(self) -> int:
        return len(re.findall(r"reloaded|reload rejected|reload failed", self.stderr(last=True)))

    def stderr(self, last: bool = False) -> str:
        runs = [self.runs] if last else range(1, self.runs + 1)
        out = []
        for i in runs:
            with contextlib.suppress(OSError):
                out.append((self.tmp / f"{self.name}-{i}.stderr").read_text(errors="replace"))
        return "".join(out)

    @property
    def peak_rss_mib(self) -> float:
        return round(self.peak_kib / 1024, 1)

    def rss_mib(self) -> float:
        return round(rss_of(self.proc.pid, "VmRSS") / 1024, 1) if self.alive() else 0.0

    # -- ops endpoints -----------------------------------------------------------------
    def get(self, path: str, timeout: float = 3.0) -> tuple[int, str] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}{path}", timeout=timeout
            ) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return int(e.code), e.read().decode()
        except (OSError, ValueError):
            return None

    def health(self) -> dict[str, Any] | None:
        got = self.get("/health")
        if got is None:
            return None
        with contextlib.suppress(ValueError):
            return dict(json.loads(got[1]))
        return None

    def status(self) -> str:
        h = self.health()
        return str(h.get("status")) if h else "unreachable"

    def not_ok(self) -> str:
        """The plugins /health does not call ok, with their state and reason."""
        h = self.health() or {}
        return "; ".join(
            f"{p.get('plugin')}: {p.get('state')} ({p.get('reason')})"
            for p in h.get("plugins", [])
            if p.get("state") != "ok"
        )

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        got = self.get("/metrics")
        return parse_metrics(got[1]) if got else []

    def refresh_counts(self) -> Counter[str]:
        """This run's losses by ``plugin/family/reason`` (dropped and rejected)."""
        counts: Counter[str] = Counter()
        ms = self.metrics()
        if not ms:
            return self._last_counts
        for name, labels, value in ms:
            if name in ("qframe_dropped_total", "qframe_rejected_total") and value:
                key = f"{labels.get('plugin', '?')}/{name[7:-6]}/{labels.get('reason', '?')}"
                counts[key] = int(value)
        self._last_counts = counts
        return counts

    def counts(self) -> Counter[str]:
        """Losses counted over every run so far (the live run read now)."""
        if self.alive():
            self.refresh_counts()
        return self._past_counts + self._last_counts

    def counted(self, plugin: str | None = None, families: tuple[str, ...] = ("dropped",)) -> int:
        return sum(
            n
            for k, n in self.counts().items()
            if (plugin is None or k.split("/")[0] == plugin) and k.split("/")[1] in families
        )

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a family's samples whose labels include ``labels`` (this run)."""
        return sum(
            v
            for n, ls, v in self.metrics()
            if n == name and all(ls.get(k) == want for k, want in labels.items())
        )

    def close(self) -> None:
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._end_run()


def describe_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v) or "none"


def start_writer(path: Path, tag: str, lines: int, rate: float) -> subprocess.Popen[bytes]:
    """``python -m chaos.writer`` (a separate process, as an application is)."""
    return subprocess.Popen(
        [sys.executable, "-m", "chaos.writer", str(path), tag, str(lines), str(rate)],
        cwd=ROOT,
    )


def logrotate(tmp: Path, target: Path, mode: str = "create", keep: int = 50) -> None:
    """``logrotate -f`` of ``target`` with its own config and state file."""
    exe = shutil.which("logrotate")
    if exe is None:
        raise Skip("logrotate is not installed (make services)")
    conf = tmp / f"logrotate-{mode}.conf"
    if not conf.exists():
        conf.write_text(
            f'"{target}" {{\n  rotate {keep}\n  {mode}\n  missingok\n  nocompress\n}}\n'
        )
    subprocess.run(
        [exe, "-f", "-s", str(tmp / "logrotate.state"), str(conf)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def file_collector(path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "file",
        "path": str(path),
        "start-position": "beginning",
        "poll-interval": "20ms",
        "scan-interval": "200ms",
        **extra,
    }


def service(start: Callable[[], Any]) -> Any:
    """Start a tests/services service; its "unavailable" becomes :class:`Skip` (with
    CI=true, an error)."""
    try:
        return start()
    except BaseException as exc:
        if type(exc).__name__ == "Skipped":
            raise Skip(str(exc)) from None
        if type(exc).__name__ == "Failed":  # CI=true: a missing service is an error
            raise RuntimeError(str(exc)) from None
        raise


def os_tally(server: Any, index: str, tag: str) -> tuple[Counter[int], int]:
    """Line numbers of ``tag`` in an osmem index (how often each), and the number of docs
    (read with the scroll API: a search window ends at 10,000)."""
    total = server.count(index)
    c: Counter[int] = Counter()
    if total == 0:
        return c, 0
    res = server.request("POST", f"/{index}/_search?scroll=1m", {"size": 5000})
    while True:
        hits = res["hits"]["hits"]
        if not hits:
            break
        c.update(tally((str(h["_source"].get("message", "")) for h in hits), tag))
        res = server.request(
            "POST", "/_search/scroll", {"scroll": "1m", "scroll_id": res["_scroll_id"]}
        )
    return c, total
