"""Retry, split, backpressure and auth behaviour against a scripted HTTP destination.

Only what no real server here can play stays on this scripted aiohttp server (everything
else — the handler, the pipeline, the HTTP client — is the real thing):

- per-item 429/5xx in a ``_bulk`` answer (osmem never answers them; a mapping conflict is a
  4xx, dead-lettered, so it cannot show item retries): asserted by what each request held;
- a held request and a 401 that later passes (backpressure, auth retries, the shutdown limit);
- a whole batch refused (413-style splits), the exact requests per batch-size/batch-bytes,
  round robin over several URLs with an ingest pipeline named, a server without composable
  templates (legacy ``_template``), a template installed before any document: what each
  request was, in order, which osmem does not record;
- InfluxDB's v2 API (``/api/v2/write``, token auth): the influxd here is 1.6.

Elasticsearch over TLS runs against osmem behind socat's OpenSSL listener (test_tls.py);
documents, ids and de-duplication against osmem itself (test_elasticsearch.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from qframe.message import Message, Metric
from qframe.testing import Harness
from tests.services import free_port

Responder = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


class Destination:
    """Records every request (path, query, headers, body) and answers with ``respond``."""

    def __init__(self) -> None:
        self.requests: list[tuple[web.Request, bytes]] = []
        self.respond: Responder = self.all_created
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def handler(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request, body))
        return await self.respond(request, body)

    @staticmethod
    def docs(body: bytes) -> list[dict[str, Any]]:
        lines = body.splitlines()
        return [orjson.loads(d) for d in lines[1::2]]

    @staticmethod
    async def all_created(request: web.Request, body: bytes) -> web.StreamResponse:
        n = len(body.splitlines()) // 2
        items = [{"index": {"status": 201}}] * n
        return web.json_response({"errors": False, "items": items})


@pytest.fixture
async def dest() -> AsyncIterator[Destination]:
    d = Destination()
    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_route("*", "/{tail:.*}", d.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", d.port)
    await site.start()
    yield d
    await runner.cleanup()


def config(kind: str, url: str | list[str], data_dir: Path, **handler: Any) -> dict[str, Any]:
    return {
        "tick": "0.1s",
        "data-dir": str(data_dir),
        "collector": {"src": {"kind": "list", "ack": True, "linger": True}},
        "handler": {
            "out": {
                "kind": kind,
                "inputs": ["src"],
                "url": url,
                "retry-initial": "10ms",
                "retry-max": "50ms",
                **handler,
            }
        },
    }


def msgs(n: int) -> list[Message]:
    return [Message(f"m{i}", time=1795669200.0, id=f"id{i}", fields={"n": i}) for i in range(n)]


async def test_only_the_items_that_failed_with_429_or_5xx_are_sent_again(
    dest: Destination, tmp_path: Path
) -> None:
    async def first_partial(request: web.Request, body: bytes) -> web.StreamResponse:
        if len(dest.requests) == 1:
            items = [{"index": {"status": s, "error": {"type": "x"}}} for s in (201, 429, 201, 503)]
            return web.json_response({"errors": True, "items": items})
        return await Destination.all_created(request, body)

    dest.respond = first_partial
    async with Harness(config("elasticsearch", dest.url, tmp_path)) as h:
        await h.plugin("src").send(msgs(4))
        await h.wait_for(lambda: h.plugin("src").acked == 4)
        assert h.plugin("out").metrics.counter("retried", reason="item status 429") == 2
    assert [[d["n"] for d in Destination.docs(b)] for _, b in dest.requests] == [
        [0, 1, 2, 3],
        [1, 3],
    ]


async def test_input_waits_while_too_much_is_unconfirmed_then_everything_lands(
    dest: Destination, tmp_path: Path
) -> None:
    release = asyncio.Event()

    async def held(request: web.Request, body: bytes) -> web.StreamResponse:
        await release.wait()
        return await Destination.all_created(request, body)

    dest.respond = held
    cfg = config(
        "elasticsearch",
        dest.url,
        tmp_path,
        **{"batch-size": 10, "max-pending": 20, "max-in-flight": 1, "timeout": "30s"},
    )
    async with Harness(cfg) as h:
        src, out = h.plugin("src"), h.plugin("out")
        batch = msgs(200)
        await src.send(batch[:30])
        await h.wait_for(lambda: not out.inflight.room.is_set(), what="handler waiting for room")
        assert out.metrics.received == 30
        for i in range(30, 200, 10):
            await src.send(batch[i : i + 10])
        await h.wait_for(lambda: out.metrics.queue_depth() == 170, what="the rest queued")
        assert out.metrics.received == 30
        assert src.acked == 0
        release.set()
        await h.wait_for(lambda: src.acked == 200, what="all acknowledged")
    assert sorted(d["n"] for _, b in dest.requests for d in Destination.docs(b)) == list(range(200))


async def test_a_batch_refused_as_a_whole_is_split_until_the_bad_document_is_alone(
    dest: Destination, tmp_path: Path
) -> None:
    async def poison(request: web.Request, body: bytes) -> web.StreamResponse:
        if b"poison" in body:
            return web.json_response({"error": "illegal_argument_exception"}, status=400)
        return await Destination.all_created(request, body)

    dest.respond = poison
    batch = msgs(16)
    batch[11].message = "poison"
    async with Harness(config("elasticsearch", dest.url, tmp_path)) as h:
        await h.plugin("src").send(batch)
        await h.wait_for(lambda: h.plugin("src").acked == 16)
        out = h.plugin("out")
        assert out.metrics.counter("delivered") == 15
        assert out.metrics.counter("dead_letter", status="400") == 1
    landed = [
        d["n"] for _, b in dest.requests[1:] if b"poison" not in b for d in Destination.docs(b)
    ]
    assert sorted(landed) == [n for n in range(16) if n != 11]
    dl = orjson.loads((tmp_path / "handler.out" / "dead-letter.jsonl").read_bytes())
    assert dl["document"]["message"] == "poison"
    assert dl["status"] == 400


async def test_the_dead_letter_file_is_rotated_at_its_size_limit_keeping_one_older_file(
    dest: Destination, tmp_path: Path
) -> None:
    async def all_conflict(request: web.Request, body: bytes) -> web.StreamResponse:
        n = len(body.splitlines()) // 2
        items = [{"index": {"status": 400, "error": {"type": "mapper_parsing"}}}] * n
        return web.json_response({"errors": True, "items": items})

    dest.respond = all_conflict
    cfg = config("elasticsearch", dest.url, tmp_path, **{"dead-letter-max-bytes": "2KiB"})
    batch = msgs(40)  # about 200 bytes per record: several files' worth
    async with Harness(cfg) as h:
        for i in range(0, 40, 4):  # one request each: the file grows by 4 records at a time
            await h.plugin("src").send(batch[i : i + 4])
            await h.wait_for(lambda i=i: h.plugin("src").acked == i + 4)
        out = h.plugin("out")
        assert out.metrics.counter("dead_letter", status="400") == 40
        rotations = out.metrics.counter("dead_letter_rotations")
    d = tmp_path / "handler.out"
    current, older = d / "dead-letter.jsonl", d / "dead-letter.jsonl.1"
    assert sorted(p.name for p in d.iterdir() if "dead" in p.name) == [current.name, older.name]
    assert current.stat().st_size <= 2048 and older.stat().st_size <= 2048
    assert rotations >= 2
    # the newest records are kept, in order, across the two files; the oldest went
    kept = [
        orjson.loads(x)["document"]["n"]
        for f in (older, current)
        for x in f.read_bytes().splitlines()
    ]
    assert kept == list(range(40 - len(kept), 40))
    assert 0 < len(kept) < 40


async def test_without_composable_templates_the_template_is_installed_in_the_legacy_form(
    dest: Destination, tmp_path: Path
) -> None:
    """Elasticsearch 7.0-7.7 has no /_index_template: it answers "no handler found"."""

    async def old_es(request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path.startswith("/_index_template/"):
            error = f"no handler found for uri [{request.path}] and method [PUT]"
            return web.json_response({"error": error, "status": 405}, status=405)
        if request.path.startswith("/_template/"):
            return web.json_response({"acknowledged": True})
        return await Destination.all_created(request, body)

    dest.respond = old_es
    template = {
        "priority": 7,
        "template": {"settings": {"number_of_shards": 1}, "mappings": {"dynamic": False}},
    }
    async with Harness(config("elasticsearch", dest.url, tmp_path, template=template)) as h:
        await h.plugin("src").send(msgs(2))
        await h.wait_for(lambda: h.plugin("src").acked == 2)
        assert h.plugin("out").metrics.counter("template_errors") == 0
    paths = [r.path for r, _ in dest.requests]
    assert paths[:3] == ["/_index_template/qframe", "/_template/qframe", "/_bulk"]
    assert orjson.loads(dest.requests[1][1]) == {
        "index_patterns": ["qframe-*"],
        "order": 7,
        "settings": {"number_of_shards": 1},
        "mappings": {"dynamic": False},
    }


async def test_an_unauthorised_answer_is_retried_until_the_destination_accepts(
    dest: Destination, tmp_path: Path
) -> None:
    async def auth_later(request: web.Request, body: bytes) -> web.StreamResponse:
        if len(dest.requests) <= 3:
            return web.Response(status=401, text="no")
        return await Destination.all_created(request, body)

    dest.respond = auth_later
    cfg = config("elasticsearch", dest.url, tmp_path, **{"api-key": "id1:secret"})
    async with Harness(cfg) as h:
        await h.plugin("src").send(msgs(5))
        await h.wait_for(lambda: h.plugin("src").acked == 5)
    assert len(dest.requests) == 4
    assert dest.requests[0][0].headers["Authorization"] == "ApiKey aWQxOnNlY3JldA=="
    assert dest.requests[0][0].headers["Content-Type"] == "application/x-ndjson"


async def test_stop_gives_up_after_the_shutdown_timeout_and_acknowledges_nothing(
    dest: Destination, tmp_path: Path
) -> None:
    async def never(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=503, text="down for maintenance")

    dest.respond = never
    h = Harness(config("elasticsearch", dest.url, tmp_path), shutdown_timeout=2.0)
    async with h:
        src = h.plugin("src")
        await src.send(msgs(5))
        await h.wait_for(lambda: len(dest.requests) >= 2)
    assert src.acked == 0
    assert h.pipeline.done.is_set()


async def test_influxdb_v2_writes_to_the_bucket_with_the_token(
    dest: Destination, tmp_path: Path
) -> None:
    async def no_content(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=204)

    dest.respond = no_content
    cfg = config("influxdb", dest.url, tmp_path, bucket="b1", org="o1", token="t0k", precision="ms")
    point = Message(time=1795669200.5, kind="metric", metric=Metric("cpu", {"v": 1}))
    async with Harness(cfg) as h:
        await h.plugin("src").send([point])
        await h.wait_for(lambda: h.plugin("src").acked == 1)
    ((req, body),) = dest.requests
    assert req.path == "/api/v2/write"
    assert dict(req.query) == {"bucket": "b1", "org": "o1", "precision": "ms"}
    assert req.headers["Authorization"] == "Token t0k"
    assert body == b"cpu v=1i 1795669200500\n"


async def test_influxdb_v1_uses_database_retention_policy_and_basic_auth(
    dest: Destination, tmp_path: Path
) -> None:
    async def no_content(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=204)

    dest.respond = no_content
    cfg = config(
        "influxdb",
        dest.url,
        tmp_path,
        database="db1",
        **{"retention-policy": "week", "username": "u", "password": "p", "precision": "us"},
    )
    point = Message(time=1795669200.5, kind="metric", metric=Metric("cpu", {"v": 1}))
    async with Harness(cfg) as h:
        await h.plugin("src").send([point])
        await h.wait_for(lambda: h.plugin("src").acked == 1)
    create, write = dest.requests
    assert create[0].path == "/query"
    assert b"CREATE+DATABASE" in create[1]
    assert write[0].path == "/write"
    assert dict(write[0].query) == {"db": "db1", "precision": "u", "rp": "week"}
    assert write[0].headers["Authorization"] == "Basic dTpw"
    assert write[1] == b"cpu v=1i 1795669200500000\n"


async def test_a_message_that_cannot_be_encoded_is_dead_lettered_and_the_rest_flows(
    dest: Destination, tmp_path: Path
) -> None:
    batch = msgs(3)
    batch[1].fields["huge"] = 2**70  # JSON numbers beyond 64 bits are refused by the encoder
    async with Harness(config("elasticsearch", dest.url, tmp_path)) as h:
        await h.plugin("src").send(batch)
        await h.wait_for(lambda: h.plugin("src").acked == 3)
        out = h.plugin("out")
        assert out.metrics.counter("rejected", reason="encode") == 1
        assert out.metrics.counter("delivered") == 2
        assert out.metrics.dropped == {}
    assert [d["n"] for _, b in dest.requests for d in Destination.docs(b)] == [0, 2]
    dl = orjson.loads((tmp_path / "handler.out" / "dead-letter.jsonl").read_bytes())
    assert dl["status"] == 0
    assert dl["message"]["id"] == "id1"
    assert "encode" in dl["error"]


async def test_requests_carry_batch_size_documents_or_batch_bytes_at_most(
    dest: Destination, tmp_path: Path
) -> None:
    cfg = config("elasticsearch", dest.url, tmp_path, **{"batch-size": 10})
    async with Harness(cfg) as h:
        src = h.plugin("src")
        await src.send(msgs(35))
        await h.wait_for(lambda: src.acked == 35)
        sizes = [len(Destination.docs(b)) for _, b in dest.requests]
        assert sizes == [10, 10, 10, 5]  # the last 5 on the tick
    dest.requests.clear()
    cfg = config("elasticsearch", dest.url, tmp_path, **{"batch-size": 1000, "batch-bytes": 2000})
    async with Harness(cfg) as h:
        src = h.plugin("src")
        await src.send(msgs(60))
        await h.wait_for(lambda: src.acked == 60)
    bodies = [b for _, b in dest.requests]
    assert len(bodies) > 3
    one_item = len(bodies[0]) // len(Destination.docs(bodies[0]))
    assert all(len(b) < 2000 + one_item for b in bodies)
    assert sorted(d["n"] for b in bodies for d in Destination.docs(b)) == list(range(60))


# Scripted, not osmem: osmem-server 0.1.6 has no ingest pipelines. `PUT
# /_ingest/pipeline/geoip` answers 400 "no handler found for uri [/_ingest/pipeline/geoip] and
# method [PUT]" (GET and `_simulate` alike), and every `_bulk?pipeline=geoip` item fails with
# 400 "pipeline with id [geoip] does not exist" — so a pipeline cannot be made to exist there.
async def test_requests_go_round_robin_over_the_urls_and_name_the_ingest_pipeline(
    dest: Destination, tmp_path: Path
) -> None:
    other = Destination()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", other.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", other.port).start()
    try:
        cfg = config(
            "elasticsearch",
            [dest.url, other.url],
            tmp_path,
            **{"batch-size": 10, "max-in-flight": 1, "pipeline": "geoip"},
        )
        async with Harness(cfg) as h:
            src = h.plugin("src")
            await src.send(msgs(40))
            await h.wait_for(lambda: src.acked == 40)
    finally:
        await runner.cleanup()
    assert (len(dest.requests), len(other.requests)) == (2, 2)
    assert {dict(r.query)["pipeline"] for r, _ in dest.requests + other.requests} == {"geoip"}


async def test_an_index_template_from_a_file_is_installed_before_any_document(
    dest: Destination, tmp_path: Path
) -> None:
    tpl = tmp_path / "template.yml"
    tpl.write_text("template:\n  mappings:\n    properties:\n      n: {type: keyword}\n")
    answers = iter([503, 200])  # the first attempt fails: documents keep waiting

    async def template_then_bulk(request: web.Request, body: bytes) -> web.StreamResponse:
        if request.method == "PUT":
            return web.json_response({"acknowledged": True}, status=next(answers))
        return await Destination.all_created(request, body)

    dest.respond = template_then_bulk
    cfg = config(
        "elasticsearch", dest.url, tmp_path, template=str(tpl), **{"template-name": "apps"}
    )
    async with Harness(cfg) as h:
        await h.plugin("src").send(msgs(3))
        await h.wait_for(lambda: h.plugin("src").acked == 3)
    calls = [(r.method, r.path) for r, _ in dest.requests]
    assert calls == [
        ("PUT", "/_index_template/apps"),
        ("PUT", "/_index_template/apps"),
        ("POST", "/_bulk"),
    ]
    assert orjson.loads(dest.requests[1][1]) == {
        "template": {"mappings": {"properties": {"n": {"type": "keyword"}}}},
        "index_patterns": ["qframe-*"],
    }
