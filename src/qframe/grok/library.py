"""Pattern libraries: the built-in ``patterns/*.grok`` files, pattern directories, inline.

The file format is Logstash's: one ``NAME regex`` per line (the name, white space, then
the regular expression up to the end of the line), blank lines and lines starting with
``#`` ignored.  So the official Logstash pattern files can be dropped into a
``pattern-dir`` unchanged.  Later definitions replace earlier ones: user files and
inline patterns override the built-ins.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["GrokError", "PatternLibrary", "parse_patterns"]

_LINE = re.compile(r"([A-Za-z0-9_]+)\s+(.*)")
_NAME = re.compile(r"[A-Za-z0-9_]+")


class GrokError(ValueError):
    """A pattern that cannot be compiled, a bad pattern file, an unknown pattern name."""


def parse_patterns(text: str, source: str = "<text>") -> dict[str, str]:
    """Parse a Logstash-format pattern file: ``{NAME: regex}``."""
    out: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _LINE.fullmatch(line.lstrip())
        if m is None or not m.group(2).strip():
            raise GrokError(f"{source}:{lineno}: expected `NAME regex`, got {s[:60]!r}")
        out[m.group(1)] = m.group(2)
    return out


_builtin_cache: dict[str, dict[str, tuple[str, str]]] = {}  # ecs -> name -> (regex, file)
_REFS = re.compile(r"%\{(\w+)(:[^}]*)?\}")
_CAPTURES = re.compile(r"%\{\w+:[^}]+\}|\(\?<(?![=!])|\(\?'|\(\?P<")
ECS_MODES = ("disabled", "v1", "v8")


def _read_dir(pkg: Any) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    # grok-patterns first: the others build on it
    files = sorted(
        (p for p in pkg.iterdir() if p.name.endswith(".grok")),
        key=lambda p: (p.name != "grok-patterns.grok", p.name),
    )
    for f in files:
        for name, rx in parse_patterns(f.read_text("utf-8"), f.name).items():
            found[name] = (rx, f.name)
    return found


def _ecs_library(
    legacy: dict[str, tuple[str, str]], ecs: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """The ECS library: the legacy patterns that capture nothing, the ECS files' patterns
    over them; a legacy pattern that captures (itself or through a reference) and has no
    ECS version is left out, so it can never put legacy field names into ECS events."""
    merged = {**legacy, **ecs}
    legacy_capture: dict[str, bool] = {}

    def captures(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in legacy_capture:
            return legacy_capture[name]
        if name in ecs or name not in merged or name in seen:
            return False
        rx = merged[name][0]
        out = bool(_CAPTURES.search(rx)) or any(
            captures(r, seen | {name}) for r, _ in _REFS.findall(rx)
        )
        legacy_capture[name] = out
        return out

    return {n: v for n, v in merged.items() if n in ecs or not captures(n)}


def _builtin(ecs: str = "disabled") -> dict[str, tuple[str, str]]:
    key = "disabled" if ecs == "disabled" else "v1"  # v8 patterns are v1's
    found = _builtin_cache.get(key)
    if found is None:
        pkg = resources.files("qframe.grok") / "patterns"
        legacy = _read_dir(pkg)
        found = legacy if key == "disabled" else _ecs_library(legacy, _read_dir(pkg / "ecs-v1"))
        _builtin_cache[key] = found
    return found


class PatternLibrary:
    """Named patterns, each a regex that may reference others with ``%{NAME}``."""

    def __init__(
        self,
        patterns: dict[str, str] | None = None,
        *,
        builtin: bool = True,
        ecs: str = "disabled",
    ) -> None:
        if ecs not in ECS_MODES:
            raise GrokError(f"ecs-compatibility {ecs!r}: use one of {', '.join(ECS_MODES)}")
        self._patterns: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.ecs = ecs
        if builtin:
            for name, (rx, src) in _builtin(ecs).items():
                self._patterns[name] = rx
                self.sources[name] = src
        for name, rx in (patterns or {}).items():
            self.add(name, rx)

    def add(self, name: str, regex: str, source: str = "inline") -> None:
        if not _NAME.fullmatch(name):
            raise GrokError(f"pattern name {name!r}: use letters, digits and _ only")
        self._patterns[name] = regex
        self.sources[name] = source

    def add_text(self, text: str, source: str = "<text>") -> None:
        for name, rx in parse_patterns(text, source).items():
            self.add(name, rx, source)

    def add_file(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GrokError(f"cannot read pattern file {p}: {exc}") from exc
        self.add_text(text, str(p))

    def add_dir(self, path: str | os.PathLike[str], glob: str = "*") -> None:
        """The regular files of a directory whose names match ``glob`` (Logstash's
        ``patterns_files_glob``), sorted by name; hidden files skipped."""
        d = Path(path)
        if not d.is_dir():
            raise GrokError(f"pattern-dir {d} is not a directory")
        for f in sorted(d.glob(glob)):
            if f.is_file() and not f.name.startswith("."):
                self.add_file(f)

    def get(self, name: str) -> str | None:
        return self._patterns.get(name)

    def missing_hint(self, name: str) -> str:
        """Why a pattern name is unknown when it is known elsewhere (the other library)."""
        if self.ecs != "disabled" and name in _builtin("disabled"):
            return (
                f" (%{{{name}}} has no ECS version in qframe's library yet: "
                "ecs-compatibility: disabled has it)"
            )
        return ""

    def __contains__(self, name: object) -> bool:
        return name in self._patterns

    def __len__(self) -> int:
        return len(self._patterns)

    def names(self) -> list[str]:
        return sorted(self._patterns)
