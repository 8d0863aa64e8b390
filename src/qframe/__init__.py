"""qframe: collect logs, events and metrics from containerised hosts and ship them.

The public API for plugin authors: the message, the plugin base classes, the option
schema helpers, ``ack`` and the exception tree.  Test helpers are in :mod:`qframe.testing`.
"""

from .errors import ConfigError, PluginError, QframeError, RequestError, RequestTimeout
from .message import ContainerInfo, Delivery, Message, Metric
from .options import Bytes, Duration, Field, PluginOptions, StrList
from .plugin import Collector, Filter, Handler, Plugin, ack

__version__ = "0.1.0"

__all__ = [
    "Bytes",
    "Collector",
    "ConfigError",
    "ContainerInfo",
    "Delivery",
    "Duration",
    "Field",
    "Filter",
    "Handler",
    "Message",
    "Metric",
    "Plugin",
    "PluginError",
    "PluginOptions",
    "QframeError",
    "RequestError",
    "RequestTimeout",
    "StrList",
    "__version__",
    "ack",
]
