"""A SIGHUP reload keeps what the inventory knows, containers in their grace period too."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import yaml

from qframe.runtime.daemon import ConfigSource, Daemon
from qframe.testing import make_registry, wait_until

from .conftest import pipeline
from .events import event, info


async def test_a_reload_keeps_the_containers_known_including_those_just_gone(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "qframe.yml"
    cfg.write_text(yaml.safe_dump(pipeline(retain="1h")))
    registry = make_registry()
    qlog = logging.getLogger("qframe")
    level = qlog.level  # a reload sets the daemon's log level: given back at the end
    source = ConfigSource(str(cfg))
    daemon = Daemon(source, registry)
    run = asyncio.ensure_future(daemon.run(source.load(registry)))
    try:
        await wait_until(lambda: daemon.pipeline is not None)
        first = daemon.pipeline
        assert first is not None
        web, db = info("web", ip="10.88.0.5"), info("db", ip="10.88.0.6")
        events = first.find("docker-events")
        assert events is not None
        await events.plugin.send(
            [event("start", web), event("start", db), event("die", db), event("destroy", db)]
        )
        inv = first.find("inventory")
        assert inv is not None
        await wait_until(lambda: len(inv.plugin.index) == 2)

        cfg.write_text(yaml.safe_dump(pipeline(retain="30m")))  # an option changed too
        daemon.request_reload()
        await wait_until(lambda: daemon.pipeline is not first)  # set once started
        assert daemon.pipeline is not None
        new = daemon.pipeline.find("inventory")
        assert new is not None and new.plugin is not inv.plugin
        index = new.plugin.index
        assert index.find("", "web", "") is not None  # running
        gone = index.find("", "", "10.88.0.6")  # destroyed, still in its grace period
        assert gone is not None and gone.info.name == "db"
    finally:
        daemon.request_stop()
        code = await asyncio.wait_for(run, 30)
        qlog.setLevel(level)
    assert code == 0
