"""nats-py loaded without aiohttp (imported by the nats plugins before nats itself).

nats-py imports aiohttp, for its WebSocket transport only, when the package is loaded;
aiohttp (with the SSL contexts it builds at import) costs about 0.2 CPU-seconds per
process start, a good part of a short agent's run.  Unless aiohttp is loaded already (an
HTTP handler in the same pipeline), nats-py is imported with aiohttp hidden, and a
``ws://`` or ``wss://`` URL brings it in when the link starts (:func:`websocket_support`).
"""

from __future__ import annotations

import sys

__all__ = ["websocket_support"]

if "nats" not in sys.modules and "aiohttp" not in sys.modules:
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # "import aiohttp" fails
    try:
        import nats.aio.transport  # noqa: F401
    finally:
        del sys.modules["aiohttp"]


def websocket_support() -> None:
    """Give nats-py's WebSocket transport the aiohttp it was loaded without."""
    import aiohttp
    import nats.aio.transport as transport

    if transport.aiohttp is None:
        transport.aiohttp = aiohttp
