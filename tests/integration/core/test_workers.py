"""A filter's worker processes (``workers: N``, issue #14): order and exactly-once delivery,
a worker killed mid-batch, a filter raising in a worker, reload and shutdown with batches in
flight, and the filters that refuse workers. Real processes throughout; every wait is on a
condition (a file a worker wrote, a counter), never on time."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from qframe.config import ConfigError, parse_config
from qframe.message import Delivery, Message
from qframe.options import Field, PluginOptions
from qframe.plugin import Filter
from qframe.runtime.daemon import ConfigSource, Daemon
from qframe.telemetry import MetricSpec, render_prometheus
from qframe.testing import Harness, make_registry, wait_until

QFRAME = str(Path(sys.executable).with_name("qframe"))
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))
from common import apache_lines  # noqa: E402


class GateFilter(Filter):
    """Tags every message; a batch holding a message that starts with ``hold`` writes
    ``<dir>/held-<pid>`` and waits for ``<dir>/go``; a message starting with ``boom`` raises,
    one starting with ``die`` ends the process."""

    class Options(PluginOptions):
        dir: str = Field("", description="where the gate files are")
        tag: str = Field("seen", description="the tag added")

    async def process(self, batch: list[Message]) -> list[Message]:
        d = Path(self.options.dir)
        if any(m.message.startswith("hold") for m in batch):
            (d / f"held-{os.getpid()}").touch()
            # the test's signal, written once it acted
            await wait_until((d / "go").exists, 120, what="the test's go")
        for m in batch:
            if m.message.startswith("boom"):
                raise ValueError("boom")
            if m.message.startswith("die"):
                os._exit(3)  # the worker dies on this message, every time
            m.add_tag(self.options.tag)
        return batch


class TextGateFilter(GateFilter):
    """GateFilter whose batches cross to the workers as their texts alone
    (``Filter.worker_texts``): a worker answers each text with the fields ``{"pid": its
    pid}``; a batch holding ``hold`` waits as GateFilter's does; ``boom`` makes
    process_texts raise, so that batch goes the general way (GateFilter.process), after
    counting its texts (``texts``: what it counted travels with that answer too)."""

    exported_metrics = (MetricSpec("texts", "counter", "texts process_texts was given"),)

    def worker_texts(self, batch: list[Message]) -> list[str] | None:
        return [m.message for m in batch]

    def process_texts(self, texts: list[str]) -> tuple[list[bytes], Any]:
        d = Path(self.options.dir)
        if any(t.startswith("hold") for t in texts):
            (d / f"held-{os.getpid()}").touch()
            deadline = time.monotonic() + 120  # a worker has no loop running: it polls
            while not (d / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        self.metrics.inc("texts", len(texts))
        if any(t.startswith("boom") for t in texts):
            raise ValueError("boom")
        if texts == ["unanswerable"]:  # what JSON cannot carry: no answer made of texts
            return [b"{}"], {self.options.tag}
        return [b'{"pid":%d}' % os.getpid()] * len(texts), self.options.tag

    def apply_texts(self, batch: list[Message], fields: list[Any], extra: Any) -> None:
        for m, f in zip(batch, fields, strict=True):
            m._fields = f
            m.add_tag(extra)


EXTRA = {("filter", "gate"): GateFilter, ("filter", "textgate"): TextGateFilter}


def gate_config(tmp: Path, texts: list[str], **filt: Any) -> dict[str, Any]:
    return {
        "data-dir": str(tmp / "data"),
        "collector": {
            "src": {
                "kind": "list",
                "messages": texts,
                "batch-size": 50,
                "ack": True,
                "linger": True,
            }
        },
        "filter": {"g": {"kind": "gate", "inputs": ["src"], "dir": str(tmp), "workers": 2, **filt}},
        "handler": {"out": {"kind": "capture", "inputs": ["g"]}},
    }


def held_pid(tmp: Path) -> int:
    (f,) = list(tmp.glob("held-*"))
    return int(f.name.split("-")[1])


async def kill_held_worker_and_release(h: Harness, tmp: Path) -> tuple[int, Any]:
    """SIGKILL the worker holding a batch (gate_config's "hold" text), wait for its
    restart, release the gate and wait until all 1,000 messages are acknowledged: (the
    killed pid, the filter's node)."""
    await h.wait_for(lambda: any(tmp.glob("held-*")), 60, "a worker holding a batch")
    victim = held_pid(tmp)
    os.kill(victim, signal.SIGKILL)
    node = h.pipeline.find("g")
    assert node is not None
    await h.wait_for(lambda: node.metrics.restarts == 1, 60, "the worker's restart")
    (tmp / "go").touch()
    src = h.plugin("src")
    await h.wait_for(lambda: src.acked == 1000, 60, "every message acknowledged")
    return victim, node


def test_order_and_exactly_once_with_4_workers_over_200000_lines_and_an_else_branch(
    tmp_path: Path,
) -> None:
    lines = apache_lines(200_000)
    for i in range(0, len(lines), 7):
        lines[i] = f"not apache {i}"
    cfg = tmp_path / "p.yml"
    cfg.write_text(
        f"data-dir: {tmp_path}/data\n"
        "collector: {stdin: {}}\n"
        "filter:\n"
        "  apache: {kind: grok, inputs: [stdin], pattern: '%{COMBINEDAPACHELOG}', workers: 4}\n"
        "  other: {kind: mutate, inputs: [apache], source-success: false, add-tags: [else]}\n"
        "handler:\n"
        f"  ok: {{kind: log, inputs: [apache], format: json, path: {tmp_path}/ok.json}}\n"
        f"  bad: {{kind: log, inputs: [other], source-success: any, format: json, "
        f"path: {tmp_path}/bad.json}}\n"
    )
    res = subprocess.run(
        [QFRAME, "run", "-c", str(cfg)],
        input=("\n".join(lines) + "\n").encode(),
        capture_output=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert "read 200000, delivered 200000, dead-lettered 0, dropped 0" in res.stderr.decode()
    ok = [json.loads(x) for x in (tmp_path / "ok.json").read_text().splitlines()]
    bad = [json.loads(x) for x in (tmp_path / "bad.json").read_text().splitlines()]
    assert [r["message"] for r in ok] == [x for x in lines if not x.startswith("not apache")]
    assert [r["message"] for r in bad] == [x for x in lines if x.startswith("not apache")]
    assert all(r["fields"]["verb"] and r["source_success"] for r in ok)
    assert all(r["tags"] == ["_grokparsefailure", "else"] for r in bad)
    assert ok[0]["source_path"] == ["stdin", "apache", "ok"]


async def test_a_forked_worker_keeps_none_of_the_main_process_s_descriptors(tmp_path: Path) -> None:
    """A worker is forked: it must not hold the main process's sockets and files (a port a
    reload frees would stay bound), only its two pipes, stdin on /dev/null, and stdout and
    stderr (its log lines go where qframe's go)."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    try:
        async with Harness(gate_config(tmp_path, ["a", "b"]), extra=EXTRA) as h:
            src = h.plugin("src")
            await h.wait_for(lambda: src.acked == 2, 60, "both messages acknowledged")
            node = h.pipeline.find("g")
            assert node is not None
            pids = [w["pid"] for w in node.metrics.snapshot()["workers"]]
            assert len(pids) == 2 and all(map(is_worker, pids))
            mine = set(_fd_targets(os.getpid()).values())
            port = f"socket:[{os.fstat(listening.fileno()).st_ino}]"
            assert port in mine
            for pid in pids:
                fds = _fd_targets(pid)
                assert fds[0] == os.devnull
                shared = {t for fd, t in fds.items() if fd > 2 and t in mine}
                # the only things it shares with this process: its two pipes
                assert len(shared) == 2 and all(t.startswith("pipe:") for t in shared), fds
                assert port not in fds.values()
    finally:
        listening.close()


async def test_a_worker_killed_mid_batch_is_restarted_and_its_batch_runs_again(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(1000)]
    texts[500] = "hold 500"
    async with Harness(gate_config(tmp_path, texts), extra=EXTRA) as h:
        victim, node = await kill_held_worker_and_release(h, tmp_path)
        assert h.texts() == texts  # in order, once each
        assert all(m.tags == ["seen"] for m in h.captured("out"))
        # the batch ran again in the new process
        pids = {int(f.name.split("-")[1]) for f in tmp_path.glob("held-*")}
        assert victim in pids and len(pids) == 2
        workers = node.metrics.snapshot()["workers"]
        assert sorted(w["restarts"] for w in workers) == [0, 1]
        assert all(w["alive"] and w["rss_bytes"] > 0 for w in workers)
        text = render_prometheus([node.metrics])
        assert 'qframe_worker_restarts_total{plugin="g",kind="gate",type="filter",worker=' in text
        assert "qframe_worker_rss_bytes{" in text


async def test_a_worker_killed_holding_a_batch_of_texts_is_restarted_and_it_runs_again(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(1000)]
    texts[500] = "hold 500"
    cfg = gate_config(tmp_path, texts)
    cfg["filter"]["g"]["kind"] = "textgate"
    async with Harness(cfg, extra=EXTRA) as h:
        victim, _ = await kill_held_worker_and_release(h, tmp_path)
        out = h.captured("out")
        assert h.texts() == texts  # in order, once each
        assert all(m.tags == ["seen"] and type(m._fields) is bytes for m in out)
        # the batch ran again in the new process, which answered it
        held = next(m for m in out if m.message == "hold 500")
        pids = {int(f.name.split("-")[1]) for f in tmp_path.glob("held-*")}
        assert victim in pids and len(pids) == 2
        assert held.fields["pid"] in pids - {victim}


async def test_texts_a_worker_cannot_process_go_the_general_way_and_isolate_the_culprit(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(300)]
    cfg = gate_config(tmp_path, texts)
    cfg["filter"]["g"]["kind"] = "textgate"
    async with Harness(cfg, extra=EXTRA) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: src.acked == 300, 60, "the first messages acknowledged")
        await src.send([Message(t) for t in ("x1", "boom", "x2")])
        await h.wait_for(lambda: src.acked == 303, 60, "the batch with boom acknowledged")
        metrics = h.pipeline.find("g").metrics  # type: ignore[union-attr]
        assert metrics.counter("texts") == 303  # counted before it raised, sent at once
        await src.send([Message("unanswerable")])
        await h.wait_for(lambda: src.acked == 304, 60, "the unanswerable one acknowledged")
        assert metrics.counter("texts") == 304
        await src.send([Message(f"n{i}") for i in range(100)])
        await h.wait_for(lambda: src.acked == 404, 60, "the last messages acknowledged")
        out = h.captured("out")
        assert [m.message for m in out] == [*texts, "x1", "boom", "x2", "unanswerable"] + [
            f"n{i}" for i in range(100)
        ]
        assert out[301].tags == ["_filtererror"]
        assert all(m.tags == ["seen"] for i, m in enumerate(out) if i != 301)
        # those batches went as messages (GateFilter.process: no fields), the others as texts
        general = [i for i, m in enumerate(out) if type(m._fields) is not bytes]
        assert general == [300, 301, 302, 303]
        assert metrics.errors == 1
        assert metrics.counter("texts") == 404


async def test_a_filter_raising_in_a_worker_forwards_that_message_tagged_and_the_rest_processed(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(300)] + ["boom"] + [f"n{i}" for i in range(300)]
    texts[10] = "skip me"
    cfg = gate_config(tmp_path, texts, when='not (message =~ "^skip")')
    async with Harness(cfg, extra=EXTRA) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: src.acked == len(texts), 60, "every message acknowledged")
        out = h.captured("out")
        assert [m.message for m in out] == texts  # the passed-by one in its place
        tags = {m.message: m.tags for m in out}
        assert tags["boom"] == ["_filtererror"]
        assert tags["skip me"] == []
        assert all(t == ["seen"] for k, t in tags.items() if k not in ("boom", "skip me"))
        assert h.pipeline.find("g").metrics.errors == 1  # type: ignore[union-attr]


async def test_a_batch_that_kills_every_worker_is_forwarded_tagged_after_3_attempts(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(200)]
    texts[120] = "die"
    cfg = gate_config(tmp_path, texts)
    cfg["collector"]["src"]["batch-size"] = 200
    async with Harness(cfg, extra=EXTRA) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: src.acked == len(texts), 120, "every message acknowledged")
        out = h.captured("out")
        assert [m.message for m in out] == texts
        assert all(m.tags == ["_filtererror"] for m in out)  # the whole batch, as it came
        node = h.pipeline.find("g")
        assert node is not None and node.metrics.restarts == 3
        # the pool goes on: a later batch is processed
        await src.send([Message("after")])
        await h.wait_for(lambda: src.sent == len(texts) + 1 and len(h.captured("out")) == 201, 60)
        assert h.captured("out")[-1].tags == ["seen"]


@asynccontextmanager
async def daemon(tmp_path: Path, config: dict[str, Any]) -> AsyncIterator[Daemon]:
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(yaml.safe_dump(config))
    registry = make_registry(EXTRA)
    qlog = logging.getLogger("qframe")
    level = qlog.level
    source = ConfigSource(str(cfg))
    d = Daemon(source, registry)
    d.run_task = asyncio.ensure_future(d.run(source.load(registry)))  # type: ignore[attr-defined]
    try:
        await wait_until(lambda: d.pipeline is not None, 60, what="the pipeline to start")
        yield d
    finally:
        d.request_stop()
        await asyncio.wait_for(d.run_task, 60)  # type: ignore[attr-defined]
        qlog.setLevel(level)


async def test_a_reload_with_batches_in_the_workers_delivers_each_message_once(
    tmp_path: Path,
) -> None:
    texts = [f"m{i}" for i in range(600)]
    texts[300] = "hold 300"
    config = gate_config(tmp_path, texts)
    async with daemon(tmp_path, config) as d:
        first = d.pipeline
        assert first is not None
        await wait_until(lambda: any(tmp_path.glob("held-*")), 60, what="a held batch")
        old_out = first.find("out").plugin  # type: ignore[union-attr]
        src = first.find("src").plugin  # type: ignore[union-attr]
        config["filter"]["g"]["tag"] = "after"  # the filter is replaced, the collector kept
        (tmp_path / "qframe.yml").write_text(yaml.safe_dump(config))
        d.request_reload()
        (tmp_path / "go").touch()  # the old workers finish what they hold
        await wait_until(lambda: d.pipeline is not first, 60, what="the reload")
        await wait_until(lambda: src.acked == len(texts), 60, what="every message acknowledged")
        new_out = d.pipeline.find("out").plugin  # type: ignore[union-attr]
        got = [m.message for m in old_out.messages] + [m.message for m in new_out.messages]
        assert got == texts
        assert all(m.tags == ["seen"] for m in old_out.messages)


async def test_shutdown_with_batches_in_the_workers_drains_them(tmp_path: Path) -> None:
    texts = [f"m{i}" for i in range(600)]
    texts[300] = "hold 300"
    async with daemon(tmp_path, gate_config(tmp_path, texts)) as d:
        p = d.pipeline
        assert p is not None
        out = p.find("out").plugin  # type: ignore[union-attr]
        src = p.find("src").plugin  # type: ignore[union-attr]
        await wait_until(lambda: any(tmp_path.glob("held-*")), 60, what="a held batch")
        workers = [w["pid"] for w in p.find("g").metrics.snapshot()["workers"]]  # type: ignore[union-attr]
        assert len(workers) == 2 and all(map(is_worker, workers))
        d.request_stop()
        (tmp_path / "go").touch()
        code = await asyncio.wait_for(d.run_task, 60)  # type: ignore[attr-defined]
    assert code == 0
    assert [m.message for m in out.messages] == texts
    assert src.acked == len(texts)
    assert not any(map(is_worker, workers))  # no worker left behind


def _fd_targets(pid: int) -> dict[int, str]:
    """A process's descriptors and what they are (the loop's epoll, shared by name with
    every other, left out)."""
    out = {}
    for x in os.listdir(f"/proc/{pid}/fd"):
        try:
            t = os.readlink(f"/proc/{pid}/fd/{x}")
        except OSError:
            continue
        if not t.startswith("anon_inode:"):
            out[int(x)] = t
    return out


def is_worker(pid: int) -> bool:
    """A live worker process (named so by the fork), not a zombie nor gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        comm = Path(f"/proc/{pid}/comm").read_bytes()
    except OSError:  # gone
        return False
    return comm.startswith(b"qframe-w") and stat[stat.rfind(b")") + 2 :][:1] != b"Z"


@pytest.mark.parametrize(
    ("kind", "opts", "reason"),
    [
        ("drop", "keep-one-in: 10", "keep-one-in counts messages across batches"),
        ("docker-stats", "", "previous CPU sample"),
        ("inventory", "", "Back-channel"),
    ],
)
def test_a_filter_that_keeps_state_refuses_workers(kind: str, opts: str, reason: str) -> None:
    text = (
        "collector: {stdin: {}}\n"
        f"filter:\n  f: {{kind: {kind}, inputs: [stdin], workers: 2{', ' + opts if opts else ''}}}\n"
        "handler: {log: {inputs: [f]}}\n"
    )
    with pytest.raises(ConfigError) as e:
        parse_config(text, make_registry(), file="p.yml")
    msg = str(e.value)
    assert "p.yml:" in msg and "filter.f.workers" in msg and reason in msg, msg


def test_workers_on_a_handler_or_collector_is_a_config_error_and_the_cli_exits_2(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "p.yml"
    cfg.write_text("collector: {stdin: {workers: 2}}\nhandler: {log: {inputs: [stdin]}}\n")
    res = subprocess.run([QFRAME, "run", "-c", str(cfg)], capture_output=True, timeout=60)
    assert res.returncode == 2
    assert "collector.stdin.workers: only the tcp, gelf and file collectors" in res.stderr.decode()
    ok = "collector: {stdin: {}}\nfilter: {g: {kind: grok, inputs: [stdin], pattern: x, workers: auto}}\nhandler: {log: {inputs: [g]}}\n"
    spec = parse_config(ok, make_registry(), file="p.yml")
    (g,) = [i for i in spec.instances if i.name == "g"]
    assert g.options.workers == len(os.sched_getaffinity(0))


class SplitFilter(Filter):
    """``two …`` becomes two messages (the second a copy, tagged ``copy``); ``drop …`` is
    dropped; the others get a label."""

    async def process(self, batch: list[Message]) -> list[Message]:
        out: list[Message] = []
        for m in batch:
            if m.message.startswith("drop"):
                self.drop(m, "filtered")
                continue
            m.labels["seen"] = "1"
            out.append(m)
            if m.message.startswith("two"):
                c = m.copy()
                c.add_tag("copy")
                out.append(c)
        return out


async def test_drops_and_one_to_many_in_a_worker_map_back_to_their_delivery_tokens(
    tmp_path: Path,
) -> None:
    container = {"id": "c0ffee", "name": "web", "image": "nginx", "labels": {"a": "b"}}
    texts = ["one", "two", "drop", "three", "drop", "two"] * 50
    msgs = [{"message": t, "container": container, "fields": {"n": i}} for i, t in enumerate(texts)]
    cfg = {
        "collector": {"src": {"kind": "list", "messages": msgs, "batch-size": 30, "ack": True}},
        "filter": {"s": {"kind": "split", "inputs": ["src"], "workers": 2}},
        "handler": {"out": {"kind": "capture", "inputs": ["s"]}},
    }
    async with Harness(cfg, extra={("filter", "split"): SplitFilter}) as h:
        src = h.plugin("src")
        await h.wait_for(lambda: src.acked == len(texts), 60, "every message acknowledged")
        out = h.captured("out")
        want = []
        for t in texts:
            if t != "drop":
                want.append(t)
            if t == "two":
                want.append(t)
        assert [m.message for m in out] == want
        assert [m.fields["n"] for m in out][:4] == [0, 1, 1, 3]
        assert all(m.labels == {"seen": "1"} for m in out)
        assert all(m.container is not None and m.container.name == "web" for m in out)
        assert sum("copy" in m.tags for m in out) == texts.count("two")
        node = h.pipeline.find("s")
        assert node is not None and node.metrics.dropped == {"filtered": texts.count("drop")}


def varied_messages(n: int, seed: int) -> list[dict[str, Any]]:
    """Apache lines and others, some with characters JSON escapes or leaves as they are
    (DEL, quotes, backslashes, newlines, non-ASCII), some with fields already, some in a
    container; a few of several reads (times)."""
    rnd = random.Random(seed)
    lines = apache_lines(n)
    odd = ["\x7f", '"', "\\", "é", "\u2028", "\n", "\t", "%{x}", "\x00"]
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        r = rnd.random()
        if r < 0.15:
            line = line.replace(" HTTP/", rnd.choice(odd) + " HTTP/", 1)
        elif r < 0.22:
            line = f"two {rnd.choice(odd)} not apache {i}"
        elif r < 0.25:
            line = ""
        d: dict[str, Any] = {"message": line, "@timestamp": f"2026-12-06T04:00:0{i % 3}Z"}
        if rnd.random() < 0.1:
            d["fields"] = {"clientip": "preset", "n": i, "deep": {"k": [1, "\x7f"]}}
        if rnd.random() < 0.05:
            d["container"] = {"id": f"c{i % 2}", "name": "web"}
        out.append(d)
    return out


async def run_varied(tmp: Path, msgs: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """The same pipeline with ``workers`` on each filter: grok, then a mutate and a
    handler's condition that read and change its fields, a one-to-many filter, and the
    canonical JSON of both the grok's and the mutate's output."""
    w = {"workers": workers}
    cfg = {
        "data-dir": str(tmp / f"data{workers}"),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "filter": {
            "g": {"kind": "grok", "inputs": ["src"], "pattern": "%{COMBINEDAPACHELOG}", **w},
            "m": {
                "kind": "mutate",
                "inputs": ["g"],
                "rename": {"fields.verb": "fields.method"},
                "convert": {"fields.response": "int"},
                "add-fields": {"fields.from": "%{fields.clientip}"},
                "remove": ["fields.ident"],
                "source-success": "any",
                **w,
            },
            "s": {"kind": "split", "inputs": ["g"], "source-success": "any", **w},
        },
        "handler": {
            "out": {"kind": "capture", "inputs": ["m"], "source-success": "any"},
            "gets": {
                "kind": "capture",
                "inputs": ["m"],
                "source-success": "any",
                "when": 'fields.method == "GET" and fields.response == 200',
            },
            "split": {"kind": "capture", "inputs": ["s"], "source-success": "any"},
            "gj": {
                "kind": "log",
                "inputs": ["g"],
                "source-success": "any",
                "format": "json",
                "path": str(tmp / f"g{workers}.json"),
            },
            "mj": {
                "kind": "log",
                "inputs": ["m"],
                "source-success": "any",
                "format": "json",
                "path": str(tmp / f"m{workers}.json"),
            },
        },
    }
    async with Harness(cfg, extra={("filter", "split"): SplitFilter}) as h:
        src = h.plugin("src")
        for i in range(0, len(msgs), 37):  # too many for a config file
            batch = [Message.from_dict(d) for d in msgs[i : i + 37]]
            token = Delivery(len(batch), src._count(len(batch)))
            for m in batch:
                m.ack = token
            await src.send(batch)
        await h.wait_for(lambda: src.acked == len(msgs), 120, "every message acknowledged")
        got: dict[str, Any] = {"raw": {}}
        for k in ("out", "gets", "split"):
            got["raw"][k] = sum(type(m._fields) is bytes for m in h.captured(k))
            got[k] = [m.to_dict() for m in h.captured(k)]
    got["files"] = [(tmp / f"{k}{workers}.json").read_bytes() for k in "gm"]
    return got


async def test_fields_a_worker_sends_back_read_changed_and_written_as_in_one_process(
    tmp_path: Path,
) -> None:
    """workers: 2 against workers: 1 on the same varied input: the fields a worker sends
    back as their JSON (decoded only when read) give the very messages and bytes."""
    msgs = varied_messages(3000, seed=14)
    one = await run_varied(tmp_path, msgs, 1)
    two = await run_varied(tmp_path, msgs, 2)
    assert len(one["out"]) == len(msgs) and len(one["split"]) > len(msgs)
    assert 0 < len(one["gets"]) < len(msgs)
    for k in ("out", "gets", "split"):
        assert two[k] == one[k], k
    assert two["files"] == one["files"]
    # what the workers sent back was still JSON when it reached the handlers
    assert two["raw"]["out"] > len(msgs) // 2 and two["raw"]["split"] > len(msgs) // 2
    assert one["raw"] == {"out": 0, "gets": 0, "split": 0}
    assert one["files"][1].count(b"\n") == len(msgs)
