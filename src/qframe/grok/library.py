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


_builtin_cache: dict[str, tuple[str, str]] | None = None  # name -> (regex, source file)


def _builtin() -> dict[str, tuple[str, str]]:
    global _builtin_cache  # an immutable, read-only cache of package data
    if _builtin_cache is None:
        found: dict[str, tuple[str, str]] = {}
        pkg = resources.files("qframe.grok") / "patterns"
        # grok-patterns first: the others build on it
        files = sorted(
            (p for p in pkg.iterdir() if p.name.endswith(".grok")),
            key=lambda p: (p.name != "grok-patterns.grok", p.name),
        )
        for f in files:
            for name, rx in parse_patterns(f.read_text("utf-8"), f.name).items():
                found[name] = (rx, f.name)
        _builtin_cache = found
    return _builtin_cache


class PatternLibrary:
    """Named patterns, each a regex that may reference others with ``%{NAME}``."""

    def __init__(self, patterns: dict[str, str] | None = None, *, builtin: bool = True) -> None:
        self._patterns: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        if builtin:
            for name, (rx, src) in _builtin().items():
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

    def add_dir(self, path: str | os.PathLike[str]) -> None:
        """Every regular file of a directory (sorted by name; hidden files skipped)."""
        d = Path(path)
        if not d.is_dir():
            raise GrokError(f"pattern-dir {d} is not a directory")
        for f in sorted(d.iterdir()):
            if f.is_file() and not f.name.startswith("."):
                self.add_file(f)

    def get(self, name: str) -> str | None:
        return self._patterns.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._patterns

    def __len__(self) -> int:
        return len(self._patterns)

    def names(self) -> list[str]:
        return sorted(self._patterns)
