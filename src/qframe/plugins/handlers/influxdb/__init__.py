"""influxdb: writes metric points to InfluxDB 1.x (``/write``) or 2.x (``/api/v2/write``).

The plugin is :class:`~.handler.InfluxdbHandler`; :mod:`.lineproto` encodes the points.
"""

from __future__ import annotations

from .handler import InfluxdbHandler

__all__ = ["InfluxdbHandler"]
