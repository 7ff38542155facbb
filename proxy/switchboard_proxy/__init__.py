"""Switchboard data plane: the sidecar proxy, the config contract and the model simulator."""

__version__ = "0.1.0"
