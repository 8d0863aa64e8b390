"""The Docker Engine API client wrapper every docker plugin shares.

- :mod:`.client`: :class:`DockerClient` (aiodocker connection, version negotiation,
  streams, errors translated into :class:`DockerError` subclasses).
- :mod:`.info`: inspect → :class:`~qframe.message.ContainerInfo`, and its cache.
- :mod:`.streams`: log-frame and JSON-lines decoders (pure).
- :mod:`.positions`: log positions, acknowledgement tracking, checkpoint files.
- :mod:`.base`: options, reconnection with backoff and health, per-container tasks.
- :mod:`.events`: following ``/events`` across engine restarts.
"""

from __future__ import annotations

from .base import ContainerTasks, DockerCollector, DockerOptions, container_event
from .client import (
    DockerApiError,
    DockerClient,
    DockerError,
    DockerProtocolError,
    DockerUnavailable,
)
from .info import ContainerCache, Inspected, container_info, info_from_attributes

__all__ = [
    "ContainerCache",
    "ContainerTasks",
    "DockerApiError",
    "DockerClient",
    "DockerCollector",
    "DockerError",
    "DockerOptions",
    "DockerProtocolError",
    "DockerUnavailable",
    "Inspected",
    "container_event",
    "container_info",
    "info_from_attributes",
]
