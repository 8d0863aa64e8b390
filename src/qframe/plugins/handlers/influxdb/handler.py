"""The influxdb handler: metric points to InfluxDB 1.x (``/write``) or 2.x (``/api/v2/write``)."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from typing import Any, ClassVar, Literal

from ....message import Message
from ....options import SECRET, Field, StrList
from ...common.delivery import DeliveringHandler, DeliveryOptions, Item, Outcome, item_data
from .lineproto import PRECISIONS, LineEncoder

__all__ = ["InfluxdbHandler"]

#: InfluxDB's count of refused points in a partial write ("… dropped=3")
_DROPPED = re.compile(rb"dropped=(\d+)")


class InfluxdbHandler(DeliveringHandler):
    """Writes every metric message as one point in line protocol, with no data loss.

    A point is ``measurement`` = the metric's name, tags = the message's ``labels``
    (plus ``host``), fields = the metric's fields with their exact types (ints as
    ``123i``, floats, strings, bools), time = the event time truncated to ``precision``
    (two points of one series within one unit overwrite each other, InfluxDB's rule).  With
    ``measurement`` set, events and logs become points too (tags ``kind``,
    ``container_name`` and the labels; fields ``message`` and ``level``), for
    annotations; otherwise they are dropped (``dropped{reason="unsupported"}``).

    InfluxDB 1.x: ``database`` (created at start unless ``create-database: false``),
    ``retention-policy``, ``username``/``password``.  InfluxDB 2.x: ``bucket``, ``org``,
    ``token``.  Batches of ``batch-size`` points are flushed when full and on every tick
    (``ticker-ms``, or the seed's ``ticker-msec``).  5xx, 429 and network errors are
    retried with backoff until the points land (input waits meanwhile); a batch refused
    with a 4xx (a field type conflict) is split until the bad point is alone, which goes
    to the dead-letter file (JSON lines with the line and the error) and is acknowledged
    (past ``dead-letter-max-bytes`` the file is moved to ``<file>.1``).

    Metrics: ``delivered``, ``retried{reason}``, ``dead_letter{status}``,
    ``dead_letter_rotations``, ``requests{status}``, ``splits``; gauge ``pending``.

    Example line::

        docker_container_mem,container_name=web1,host=node1 usage=1843200i,usage_percent=0.17 1764133200
    """

    class Options(DeliveryOptions):
        auth_options: ClassVar[tuple[str, ...]] = ("token",)
        url: StrList = Field(
            default_factory=list,
            description="base URL or list of URLs (failover); default http://host:port",
        )
        host: str = Field("127.0.0.1", description="the seed's host (used when url is empty)")
        port: int = Field(
            8086, ge=1, le=65535, description="the seed's port (used when url is empty)"
        )
        database: str = Field("qframe", description="v1 database")
        retention_policy: str = Field(
            "", description="v1 retention policy (default: the database's)"
        )
        create_database: bool = Field(True, description="v1: CREATE DATABASE at start")
        org: str = Field("", description="v2 organisation")
        bucket: str = Field("", description="v2 bucket (setting it selects the v2 API)")
        token: str = Field(
            "", description="v2 API token; not with username/password", json_schema_extra=SECRET
        )
        precision: Literal["s", "ms", "us", "ns"] = Field(
            "s", description="timestamp precision of the written points"
        )
        measurement: str = Field(
            "", description="write events and logs as points of this measurement (off when empty)"
        )
        host_tag: bool = Field(True, description="tag points with the message's host")
        distinct_times: bool = Field(
            True,
            description="event points of one series and time get offsets of one precision "
            "unit, so that none overwrites another (precisions ms, us, ns)",
        )
        batch_size: int = Field(5000, ge=1, description="points per request")

    options: Options

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.encoder = LineEncoder(
            self.options.precision,
            self.options.measurement,
            self.options.host_tag,
            self.options.distinct_times,
        )
        self.encode = self.encoder.encode  # type: ignore[method-assign]
        if self.options.bucket:
            q = {"bucket": self.options.bucket, "precision": self.options.precision}
            if self.options.org:
                q["org"] = self.options.org
            self._path = "/api/v2/write?" + urllib.parse.urlencode(q)
        else:
            q = {"db": self.options.database, "precision": PRECISIONS[self.options.precision][1]}
            if self.options.retention_policy:
                q["rp"] = self.options.retention_policy
            self._path = "/write?" + urllib.parse.urlencode(q)
        self._db_ready = asyncio.Event()

    def headers(self) -> dict[str, str]:
        if self.options.token:
            return {"Authorization": f"Token {self.options.token}"}
        return {}

    def encode(self, m: Message) -> bytes | None:
        return self.encoder.encode(m)

    async def start(self) -> None:
        await super().start()
        if self.options.create_database and not self.options.bucket:
            self.spawn(self._create_database(), "create-database")
        else:
            self._db_ready.set()

    async def _create_database(self) -> None:
        """CREATE DATABASE (idempotent), retried while the server is unreachable."""
        db = self.options.database.replace("\\", "\\\\").replace('"', '\\"')
        status, text = await self.setup_request(
            "create database",
            "POST",
            "/query",
            lambda st: True,
            data={"q": f'CREATE DATABASE "{db}"'},
        )
        if status >= 300:
            self.log.warning("CREATE DATABASE refused (%d), writing anyway: %s", status, text[:300])
        self._db_ready.set()

    async def ready(self) -> None:
        if not self._db_ready.is_set():
            await self._db_ready.wait()

    def request(self, base: str, items: list[Item]) -> tuple[str, bytes, dict[str, str]]:
        return base + self._path, b"".join(map(item_data, items)), {}

    def parse(self, status: int, body: bytes, items: list[Item]) -> Outcome | None:
        """A 400 that dropped every point dead-letters them all; other 4xx are split."""
        if status == 400 and len(items) > 1:
            m = _DROPPED.search(body)
            if m is not None and int(m.group(1)) >= len(items):
                reason = body[:500].decode("utf-8", "replace")
                return Outcome(dead=[(item, status, reason) for item in items])
        return None

    def dead_record(self, item: Item, status: int, error: Any) -> dict[str, Any]:
        return {"line": item[1].decode("utf-8", "replace").rstrip("\n")}
