"""Disk buffers of handlers: segments on disk, a confirmed watermark (see docs/design-notes.md)."""
