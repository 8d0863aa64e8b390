"""Multiline aggregation: shared with the other log collectors (see common.multiline)."""

from __future__ import annotations

from ...common.multiline import Event, Multiline

__all__ = ["Event", "Multiline"]
