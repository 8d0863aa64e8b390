"""Plugin discovery through entry points.

Built-in plugins are registered in qframe's own ``pyproject.toml`` under the same
groups a separately installed package uses, so the external route is always exercised:

- ``qframe.collectors``  - ``qframe.filters``  - ``qframe.handlers``

A plugin that fails to import is reported by name (``Registry.broken``) and left out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from .plugin import Collector, Filter, Handler, Plugin

log = logging.getLogger("qframe.registry")

__all__ = ["GROUPS", "Registry"]

GROUPS: dict[str, tuple[str, type[Plugin]]] = {
    "collector": ("qframe.collectors", Collector),
    "filter": ("qframe.filters", Filter),
    "handler": ("qframe.handlers", Handler),
}


@dataclass
class Registry:
    """Entry points are listed at once and imported when first used (``get``/``load_all``)."""

    plugins: dict[tuple[str, str], type[Plugin]] = field(default_factory=dict)
    broken: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, kind) -> reason
    origin: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (type, kind) -> "module:attr"
    _eps: dict[tuple[str, str], EntryPoint] = field(default_factory=dict)

    @classmethod
    def discover(cls, load: bool = False) -> Registry:
        reg = cls()
        for type_, (group, _base) in GROUPS.items():
            for ep in entry_points(group=group):
                key = (type_, ep.name)
                if key in reg._eps:
                    continue  # first registration wins (duplicate dists in dev installs)
                reg._eps[key] = ep
                reg.origin[key] = ep.value
        if load:
            reg.load_all()
        return reg

    def _load(self, key: tuple[str, str]) -> type[Plugin] | None:
        if key in self.plugins:
            return self.plugins[key]
        ep = self._eps.get(key)
        if ep is None or key in self.broken:
            return None
        type_, kind = key
        base = GROUPS[type_][1]
        try:
            obj = ep.load()
        except Exception as exc:
            self.broken[key] = f"{type(exc).__name__}: {exc}"
            log.warning(
                "plugin %s %r failed to load and is left out: %s", type_, kind, self.broken[key]
            )
            return None
        if not (isinstance(obj, type) and issubclass(obj, base)):
            self.broken[key] = f"{ep.value} is not a {base.__name__} subclass"
            log.warning("plugin %s %r is left out: %s", type_, kind, self.broken[key])
            return None
        obj.kind = kind
        self.plugins[key] = obj
        return obj

    def load_all(self) -> None:
        for key in list(self._eps):
            self._load(key)

    def add(self, type_: str, kind: str, cls_: type[Plugin]) -> None:
        """Register a class directly (tests, embedding)."""
        cls_.kind = kind
        self.plugins[(type_, kind)] = cls_

    def kinds(self, type_: str) -> list[str]:
        return sorted({k for t, k in (*self.plugins, *self._eps) if t == type_})

    def get(self, type_: str, kind: str) -> type[Plugin] | None:
        return self._load((type_, kind))
