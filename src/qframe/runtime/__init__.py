"""The runtime: graph of nodes, channels (Data, Back, Tick), acks, supervision, shutdown."""

from .channel import TICK, Channel
from .pipeline import Pipeline

__all__ = ["TICK", "Channel", "Pipeline"]
