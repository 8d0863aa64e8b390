"""The elasticsearch handler: messages to Elasticsearch 7–9 or OpenSearch through ``_bulk``."""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.parse
from typing import Any, ClassVar, Literal

import orjson
from pydantic import field_validator

from ....message import Message
from ....options import SECRET, Field, StrList
from ....telemetry import MetricSpec
from ....yamlload import load_yaml, read_text
from ...common.delivery import DeliveringHandler, DeliveryOptions, Item, Outcome, item_data
from .bulk import parse_bulk
from .encode import DocumentEncoder, split_item

__all__ = ["ElasticsearchHandler"]


class ElasticsearchHandler(DeliveringHandler):
    """Indexes every message as a Logstash-style document, with no data loss.

    Documents go to a dated index (``index``, strftime of the event time in UTC, default
    ``qframe-%Y.%m.%d``; the seed's ``index-prefix`` gives ``<prefix>-%Y.%m.%d``) with
    ``_id`` = the message id (a generated unique id otherwise), so replays and retries
    overwrite instead of duplicating.  Requests go round-robin over ``url`` (a list fails
    over).  Per item: 2xx → acknowledged; 408/429/5xx and connection errors → only those
    items retried with exponential backoff and jitter until they land (input waits while
    ``max-pending`` messages are unconfirmed); other 4xx (a mapping conflict) → written to
    the dead-letter file (JSON lines: time, status, error, index, id, document), counted,
    acknowledged; past ``dead-letter-max-bytes`` the file is moved to ``<file>.1``.
    ``stop`` flushes and waits for confirmations (``shutdown-timeout``).

    Metrics: ``delivered``, ``retried{reason}``, ``dead_letter{status}``,
    ``dead_letter_rotations``, ``requests{status}``, ``rejected{reason}``, ``splits``;
    gauge ``pending``.

    Example document::

        {"@timestamp": "2026-11-26T05:00:00.123456Z", "message": "GET /index.html 200",
         "verb": "GET", "response": 200, "kind": "log", "level": 6, "host": "node1",
         "source_path": ["web-logs", "apache", "es"], "tags": ["_grokparsefailure"],
         "container": {"id": "4f1c…", "name": "web1", "image": "nginx",
                       "labels": {"com_docker_compose_project": "shop"}}}
    """

    class Options(DeliveryOptions):
        auth_options: ClassVar[tuple[str, ...]] = ("api_key",)
        url: StrList = Field(
            default_factory=list,
            description="base URL or list of URLs (round-robin, failover); default http://host:port",
        )
        host: str = Field("127.0.0.1", description="the seed's host (used when url is empty)")
        port: int = Field(
            9200, ge=1, le=65535, description="the seed's port (used when url is empty)"
        )
        index_prefix: str = Field(
            "", description="the seed's index prefix: index <prefix>-%Y.%m.%d unless index is set"
        )
        index: str = Field(
            "",
            description="index name, strftime of the event time in UTC (default qframe-%Y.%m.%d)",
        )
        api_key: str = Field(
            "",
            description="API key (id:key or its base64 form); not with username/password",
            json_schema_extra=SECRET,
        )
        op_type: Literal["index", "create"] = Field(
            "index", description="bulk action: index (overwrite by _id) or create (data streams)"
        )
        dedot_labels: bool = Field(
            True, description="replace dots in label keys and in keys of maps nested in fields"
        )
        dedot_char: str = Field("_", description="what replaces the dots in label keys")
        generate_ids: bool = Field(
            True, description="give messages without an id a unique _id (retries never duplicate)"
        )
        template: dict[str, Any] | str = Field(
            "",
            description="index template installed at start (composable, or legacy with "
            "mappings/settings at the top): a mapping, JSON text or a file path",
        )
        template_name: str = Field("qframe", description="name of the installed index template")
        pipeline: str = Field("", description="ingest pipeline the documents go through")
        ecs_compatibility: Literal["disabled", "v1", "v8"] = Field(
            "disabled",
            description="v1/v8: documents in the Elastic Common Schema shape (host.name, "
            "container.image.name, log.level, event.original …; docs/grok.md, ECS)",
        )

        @field_validator("index")
        @classmethod
        def _valid_index(cls, v: str) -> str:
            if v:
                sample = time.strftime(v, time.gmtime(1795669200))
                bad = set(sample) & set(' \\/*?"<>|,#:')
                if bad or sample != sample.lower() or sample.startswith(("-", "_", "+")):
                    raise ValueError(
                        f"{v!r} gives index names like {sample!r}: Elasticsearch wants lower case, "
                        'no spaces or \\/*?"<>|,#: and no leading -_+'
                    )
            return v

        @field_validator("index_prefix")
        @classmethod
        def _valid_prefix(cls, v: str) -> str:
            if v:
                cls._valid_index(v + "-%Y.%m.%d")
            return v

    exported_metrics = (
        MetricSpec("template_errors", "counter", "failed attempts to install the index template"),
    )

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        index = self.options.index or f"{self.options.index_prefix or 'qframe'}-%Y.%m.%d"
        self.encoder = DocumentEncoder(
            index,
            op_type=self.options.op_type,
            dedot=self.options.dedot_labels,
            dedot_char=self.options.dedot_char,
            generate_ids=self.options.generate_ids,
            ecs=self.options.ecs_compatibility != "disabled",
        )
        self.encode = self.encoder.encode  # type: ignore[method-assign]
        self._template: dict[str, Any] | None = None
        self._bulk_path = "/_bulk"
        if self.options.pipeline:
            self._bulk_path += "?" + urllib.parse.urlencode({"pipeline": self.options.pipeline})
        self._template_ready = asyncio.Event()

    def headers(self) -> dict[str, str]:
        key = self.options.api_key
        if not key:
            return {}
        if ":" in key:
            key = base64.b64encode(key.encode()).decode()
        return {"Authorization": f"ApiKey {key}"}

    # -- life --------------------------------------------------------------------------
    async def start(self) -> None:
        self._template = self._load_template()
        await super().start()
        if self._template is None:
            self._template_ready.set()
        else:
            self.spawn(self._install_template(), "template")

    def _load_template(self) -> dict[str, Any] | None:
        t = self.options.template
        if not t:
            return None
        if isinstance(t, str):
            # JSON text or a file, read with the guards of the config loader
            inline = t.lstrip().startswith("{")
            text = t if inline else read_text(t)
            t, _ = load_yaml(text, "template" if inline else t, hint="")
        t = dict(t)
        if "index_patterns" not in t:
            t["index_patterns"] = [self.encoder.index.split("%", 1)[0] + "*"]
        return t

    async def _install_template(self) -> None:
        """PUT the index template, retrying until the server answers; documents wait for it.

        A composable template (``template: {mappings: …}``, Elasticsearch 7.8+ and
        OpenSearch) goes to ``/_index_template``; a legacy one (``mappings``/``settings``
        at the top) to ``/_template``.  A server without the composable API (Elasticsearch
        before 7.8) gets the composable template in the legacy form.
        """
        name = self.options.template_name
        body = self._template or {}
        legacy = is_legacy_template(body)
        status, text = await self._put_template(
            f"/_template/{name}" if legacy else f"/_index_template/{name}", body
        )
        if not legacy and (status in (404, 405) or "no handler found" in text.lower()):
            self.log.info("no composable index templates here: installing %s as legacy", name)
            status, text = await self._put_template(f"/_template/{name}", as_legacy(body))
        if status < 300:
            self.log.info("index template %s installed", name)
        else:
            self.log.error("index template refused (%d): %s", status, text[:500])
            self.metrics.inc("template_errors")
        self._template_ready.set()

    async def _put_template(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        return await self.setup_request(
            "index template",
            "PUT",
            path,
            lambda st: st not in (401, 403, 408, 429),
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        )

    async def ready(self) -> None:
        if not self._template_ready.is_set():
            await self._template_ready.wait()

    # -- requests ----------------------------------------------------------------------
    def request(self, base: str, items: list[Item]) -> tuple[str, bytes, dict[str, str]]:
        return (
            base + self._bulk_path,
            b"".join(map(item_data, items)),
            {"Content-Type": "application/x-ndjson"},
        )

    def parse(self, status: int, body: bytes, items: list[Item]) -> Outcome | None:
        return parse_bulk(status, body, items)

    def dead_record(self, item: Item, status: int, error: Any) -> dict[str, Any]:
        meta, doc = split_item(item[1])
        return {"index": meta.get("_index"), "id": meta.get("_id"), "document": doc}

    def encode(self, m: Message) -> bytes | None:  # replaced per instance in __init__
        return self.encoder.encode(m)


def is_legacy_template(t: dict[str, Any]) -> bool:
    """A legacy (``/_template``) body has its mappings/settings/aliases at the top level."""
    return "template" not in t and any(k in t for k in ("mappings", "settings", "aliases"))


def as_legacy(t: dict[str, Any]) -> dict[str, Any]:
    """A composable index template in the legacy form (``priority`` becomes ``order``)."""
    out: dict[str, Any] = {"index_patterns": t.get("index_patterns", [])}
    if "priority" in t:
        out["order"] = t["priority"]
    if "version" in t:
        out["version"] = t["version"]
    out.update(t.get("template") or {})
    return out
