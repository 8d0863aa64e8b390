"""The ``file`` collector (package: discovery and checkpoints, tailer, multiline, identity)."""

from .collector import FileCollector

__all__ = ["FileCollector"]
