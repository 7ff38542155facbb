"""Hot reload: the watcher that keeps the served `RoutingTable` on the newest valid config.

`watching` polls the config source (the kubelet's `..data` symlink, resource files, credentials) and
takes SIGHUP; `kubewatch` follows the ConfigMap through the Kubernetes API and hands new text over.
Either way: load, validate, compare the version, build the table, swap it in once.
"""

from .watching import ConfigHolder, ConfigWatcher

__all__ = ["ConfigHolder", "ConfigWatcher"]
