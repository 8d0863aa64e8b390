"""One exception tree for qframe.

::

    QframeError
    ├── ConfigError            one or more problems in a configuration (exit code 2)
    │                          .problems: list[ConfigProblem]
    ├── PluginError            a plugin misbehaved (failed to start or run); one that fails
    │                          to load is left out and named instead (Registry.broken)
    ├── StartupError           a fatal problem at start (port in use, …): exit code 1
    └── RequestError           a Back-channel request failed
        ├── RequestTimeout     no reply within the timeout
        └── UnknownTarget      no plugin instance of that name

Library errors are translated at the boundary: ``raise StartupError(...) from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "PluginError",
    "QframeError",
    "RequestError",
    "RequestTimeout",
    "StartupError",
    "UnknownTarget",
]


class QframeError(Exception):
    """Base of every error qframe raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration: where (file, line, plugin, key) and what."""

    file: str
    where: str  # "handler.es" or "" for global keys
    key: str  # "url", "inputs", "" when the whole instance is concerned
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        path = ".".join(p for p in (self.where, self.key) if p)
        return f"{loc}: {path}: {self.message}" if path else f"{loc}: {self.message}"


class ConfigError(QframeError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PluginError(QframeError):
    pass


class StartupError(QframeError):
    pass


class RequestError(QframeError):
    pass


class RequestTimeout(RequestError):
    pass


class UnknownTarget(RequestError):
    pass
