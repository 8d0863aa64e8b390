"""elasticsearch: ships messages to Elasticsearch 7–9 or OpenSearch through ``_bulk``.

The plugin is :class:`~.handler.ElasticsearchHandler`; :mod:`.encode` makes the
documents, :mod:`.bulk` reads the ``_bulk`` answer.
"""

from __future__ import annotations

from .handler import ElasticsearchHandler

__all__ = ["ElasticsearchHandler"]
