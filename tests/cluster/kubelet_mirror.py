"""`KubeletMirror`: play the kubelet for a sidecar running outside any pod.

The kubelet copies a mounted ConfigMap or Secret into the pod's volume on its periodic sync (up to about a
minute late); this background thread does the same every `interval` seconds: read the object with kubectl
and, when its resourceVersion changed, publish its keys with the `..data` symlink swap
(`KubeletVolume` from the sidecar integration tests, which the cluster conftest puts on sys.path).
"""

from __future__ import annotations

import base64
import subprocess
import threading
from pathlib import Path

from kubectl_cli import Kubectl
from kubelet_volume import KubeletVolume


class KubeletMirror:
    """Keeps `directory` equal to ConfigMap or Secret `kind/name` while running."""

    def __init__(
        self,
        kubectl: Kubectl,
        *,
        namespace: str,
        kind: str,
        name: str,
        directory: Path,
        interval: float = 0.2,
    ) -> None:
        self.kubectl = kubectl
        self.namespace, self.kind, self.name = namespace, kind, name
        self.volume = KubeletVolume(directory)
        self.interval = interval
        self.published: list[str] = []  # resourceVersions, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kubelet-{kind}-{name}", daemon=True)

    def sync(self) -> bool:
        """Publish the object if it changed since the last sync; True if something was published."""
        obj = self.kubectl.find(self.kind, self.name, namespace=self.namespace)
        if obj is None or (self.published and self.published[-1] == obj["metadata"]["resourceVersion"]):
            return False
        data = obj.get("data") or {}
        if self.kind == "secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        self.volume.publish(data)
        self.published.append(obj["metadata"]["resourceVersion"])
        return True

    def start(self) -> KubeletMirror:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except (AssertionError, OSError, ValueError, subprocess.SubprocessError):
                continue  # a failed read is retried at the next tick, as the kubelet would
