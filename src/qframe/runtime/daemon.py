"""``qframe run``: load, start, supervise, reload on SIGHUP, drain on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Collection
from dataclasses import dataclass, field

from .. import __version__
from ..config import PipelineSpec, load_config, parse_config
from ..defaults import default_pipeline
from ..errors import ConfigError, StartupError
from ..logs import LEVELS
from ..registry import Registry
from .pipeline import Pipeline
from .sdnotify import Notifier
from .summary import EXIT_UNDELIVERED, RunSummary, summarize

log = logging.getLogger("qframe.daemon")

__all__ = ["ConfigSource", "Daemon"]


@dataclass
class ConfigSource:
    """Where the config comes from: a file, or the embedded default pipeline."""

    path: str | None
    sets: list[str] = field(default_factory=list)
    log_level: str | None = None

    def load(self, registry: Registry) -> PipelineSpec:
        if self.path is not None:
            spec = load_config(self.path, registry, self.sets)
        else:
            name, text = default_pipeline()
            spec = parse_config(text, registry, file=name, sets=self.sets)
        if self.log_level:
            spec.log_level = self.log_level
        return spec


def resolve_config_path(path: str | None) -> str | None:
    if path:
        return path
    return "qframe.yml" if os.path.exists("qframe.yml") else None


class Daemon:
    def __init__(self, source: ConfigSource, registry: Registry) -> None:
        self.source = source
        self.registry = registry
        self.pipeline: Pipeline | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._past = RunSummary()  # of the pipelines replaced by reloads
        self.notify = Notifier()  # systemd Type=notify (no-op without $NOTIFY_SOCKET)

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    async def run(self, spec: PipelineSpec) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        log.info("qframe %s: config %s", __version__, spec.file)
        for w in spec.warnings:
            log.warning("%s", w)
        self.pipeline = Pipeline(spec, self.registry.plugins)
        try:
            await self.pipeline.start()
        except StartupError as exc:
            log.error("cannot start: %s", exc)
            return 1
        self.notify.ready(f"running {len(self.pipeline.nodes)} instances")
        self.notify.start_watchdog()
        try:
            return await self._supervise()
        finally:
            await self.notify.close()

    async def _supervise(self) -> int:
        assert self.pipeline is not None
        while True:
            stop = asyncio.ensure_future(self._stop.wait())
            reload = asyncio.ensure_future(self._reload.wait())
            done = asyncio.ensure_future(self.pipeline.wait())
            await asyncio.wait({stop, reload, done}, return_when=asyncio.FIRST_COMPLETED)
            for f in (stop, reload, done):
                f.cancel()
            if self._stop.is_set():
                self.notify.stopping()
                drained = await self.pipeline.shutdown()
                log.info(
                    "stopped%s",
                    "" if drained else " (shutdown timeout: some messages were not drained)",
                )
                self._log_summary()
                return 0  # a service manager reads anything else as a failure
            if self.pipeline.done.is_set():
                log.info("all input consumed; pipeline drained")
                if self._log_summary().lost:
                    log.error(
                        "exit %d: not every message was delivered (see the summary above)",
                        EXIT_UNDELIVERED,
                    )
                    return EXIT_UNDELIVERED
                return 0
            self._reload.clear()
            self.notify.reloading()
            await self._do_reload()
            self.notify.ready(f"running {len(self.pipeline.nodes)} instances")

    async def _do_reload(self) -> None:
        assert self.pipeline is not None
        log.info("SIGHUP: reloading configuration")
        try:
            spec = self.source.load(self.registry)
        except ConfigError as exc:
            for p in exc.problems:
                log.error("reload rejected: %s", p)
            log.error("reload rejected: the running pipeline is left as it is")
            return
        except Exception as exc:  # a bug in loading must not take the running pipeline down
            log.error(
                "reload rejected: %r; the running pipeline is left as it is", exc, exc_info=exc
            )
            return
        old_spec = self.pipeline.spec
        logging.getLogger("qframe").setLevel(LEVELS.get(spec.log_level, logging.INFO))
        for w in spec.warnings:
            log.warning("%s", w)
        old = self.pipeline
        keep = unchanged_collectors(old, spec)
        new = Pipeline(spec, self.registry.plugins, kept={k: old.nodes[k] for k in keep})
        replaced = [n.plugin for k, n in old.nodes.items() if k not in keep]
        _announce(old, new, keep)
        await old.retire(keep)
        self._past += summarize(old)  # the kept collectors left it: they count in the new one
        _hand_over(old, new)
        new.hand_back = True
        try:
            await new.start()
        except StartupError as exc:
            log.error("reload failed to start (%s); restarting the previous pipeline", exc)
            failed = new
            new = Pipeline(old_spec, self.registry.plugins, kept=failed.kept)
            # each adopts the failed instance (which adopted the old one), or else the old one
            _hand_over(failed, new)
            _hand_over(old, new, skip=_same_kind(failed, new))
            replaced += [n.plugin for k, n in failed.nodes.items() if k not in failed.kept]
            await new.start()
        for key in new.kept:
            try:
                new.nodes[key].plugin.reload_kept()
            except Exception as exc:
                log.error("%s: re-reading its files failed: %r", key, exc, exc_info=exc)
        for plugin in replaced:
            try:
                await plugin.handed_over()
            except Exception as exc:
                log.error("%s: closing what was left: %r", plugin.name, exc, exc_info=exc)
        self.pipeline = new
        log.info("reloaded: %d instances (%d kept running)", len(new.nodes), len(keep))

    def summary(self) -> RunSummary:
        """The run so far: the pipelines replaced by reloads and the current one."""
        return self._past + summarize(self.pipeline) if self.pipeline else self._past

    def _log_summary(self) -> RunSummary:
        s = self.summary()
        log.log(logging.WARNING if s.lost else logging.INFO, "summary: %s", s.line())
        return s


def unchanged_collectors(old: Pipeline, spec: PipelineSpec) -> set[str]:
    """The running collectors a reload keeps: same kind and options (inputs included),
    inputs that are kept collectors themselves, and the same data-dir."""
    if str(old.spec.data_dir) != str(spec.data_dir):
        return set()
    new = {i.key: i for i in spec.instances}
    keep: set[str] = set()
    for key, node in old.nodes.items():
        inst = new.get(key)
        if (
            inst is not None
            and node.type == "collector"
            and inst.kind == node.spec.kind
            and not node.finished.is_set()
            and type(inst.options) is type(node.spec.options)
            and inst.options.model_dump() == node.spec.options.model_dump()
        ):
            keep.add(key)
    changed = True
    while changed:  # a collector whose inputs are not all kept is replaced as well
        changed = False
        for key in list(keep):
            if any(up not in keep for up in new[key].resolved_inputs):
                keep.discard(key)
                changed = True
    return keep


def _announce(old: Pipeline, new: Pipeline, keep: set[str]) -> None:
    """Each replaced instance learns its successor (same name and kind) before it stops."""
    for key, node in old.nodes.items():
        if key in keep:
            continue
        after = new.nodes.get(key)
        successor = (
            after.plugin if after is not None and after.spec.kind == node.spec.kind else None
        )
        try:
            node.plugin.hand_over(successor)
        except Exception as exc:  # a plugin's bug: it stops as usual
            log.error("%s could not prepare its handover: %r", key, exc, exc_info=exc)


def _same_kind(a: Pipeline, b: Pipeline) -> set[str]:
    return {k for k, n in a.nodes.items() if k in b.nodes and b.nodes[k].spec.kind == n.spec.kind}


def _hand_over(old: Pipeline, new: Pipeline, skip: Collection[str] = ()) -> None:
    """Each new instance may adopt the state of the stopped one of the same name and kind."""
    for key, node in new.nodes.items():
        before = old.nodes.get(key)
        if before is None or key in new.kept or before.spec.kind != node.spec.kind:
            continue
        if key in skip:
            continue
        try:
            node.plugin.adopt(before.plugin)
        except Exception as exc:  # a plugin's bug: it starts afresh
            log.error("%s could not take over its previous state: %r", key, exc, exc_info=exc)
