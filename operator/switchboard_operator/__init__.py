"""Switchboard control plane: the Kopf operator that compiles resources into sidecar config."""

__version__ = "0.1.0"
