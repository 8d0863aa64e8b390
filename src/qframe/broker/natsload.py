"""nats-py loaded without aiohttp (imported by the nats plugins before nats itself).

nats-py imports aiohttp, for its WebSocket transport only, when the package is loaded;
aiohttp (with the SSL contexts it builds at import) costs about 0.2 CPU-seconds per
process start, a good part of a short agent's run.  Unless aiohttp is loaded already (an
HTTP handler in the same pipeline), nats-py is imported with aiohttp hidden, and a
``ws://`` or ``wss://`` URL brings it in when the link starts (:func:`websocket_support`).
Its socket reads are made larger (:data:`READ_BUFFER`).
"""

from __future__ import annotations

import sys

__all__ = ["websocket_support"]

if "nats" not in sys.modules and "aiohttp" not in sys.modules:
    sys.modules["aiohttp"] = None  # type: ignore[assignment]  # "import aiohttp" fails
    try:
        import nats.aio.transport
    finally:
        del sys.modules["aiohttp"]

import nats.aio.client

#: nats-py reads its socket in chunks of this size, which is also its stream reader's
#: limit (reading pauses past twice that): 32 KiB by default, so a 900 KiB batch came in
#: ~30 reads, each a pause and resume of the socket, a parse call and a growth of the
#: parser's buffer.  Read at connection, for every connection made after this import.
READ_BUFFER = 1 << 20
nats.aio.client.DEFAULT_BUFFER_SIZE = max(nats.aio.client.DEFAULT_BUFFER_SIZE, READ_BUFFER)


def websocket_support() -> None:
    """Give nats-py's WebSocket transport the aiohttp it was loaded without."""
    import aiohttp
    import nats.aio.transport as transport

    if transport.aiohttp is None:
        transport.aiohttp = aiohttp
