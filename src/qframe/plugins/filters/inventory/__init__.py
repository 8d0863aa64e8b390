"""inventory: the container inventory, lookups over the Back channel, enrichment.

The plugin is :class:`~.filter.InventoryFilter`; :mod:`.index` holds the containers,
:mod:`.waiting` what waits for them, :mod:`.http` the ops endpoint.
"""

from __future__ import annotations

from .filter import InventoryFilter

__all__ = ["InventoryFilter"]
