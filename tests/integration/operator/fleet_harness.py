"""The quality loop on loopback: a sim, sidecars in local mode, a real Prometheus scraping them, and the
operator's `FleetLoop` against a directory of resource files standing in for the API server.

`FileKube` keeps the namespace's objects (status included). Its `reconcile` plans the namespace with the
operator's own `plan_namespace` (compile, conditions, Events), applies the statuses and writes the
compiled config as the file the sidecars load with `--config`, as the ConfigMap's config.json is in a
cluster: a status patch that changes what `compile()` reads back reaches every sidecar on its next poll.
Prometheus (Debian's package, 2.x) scrapes each sidecar every second with the
`namespace` and `pod` labels the cluster's relabelling would add.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support.local_prometheus import NAMESPACE
from support.stack import Stack, http, read_metric
from switchboard_operator.reconciling import EventNote, Snapshot, plan_namespace

KIND_PLURALS = {
    "modelendpoints": "ModelEndpoint",
    "fallbackpolicies": "FallbackPolicy",
    "modelroutes": "ModelRoute",
}


@dataclass
class FileKube:
    """The namespace's objects, written to `directory/resources.yaml` on every change."""

    directory: Path
    objects: list[dict[str, Any]]
    events: list[EventNote] = field(default_factory=list)
    config: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.reconcile(NAMESPACE)

    def list_objects(self, namespace: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.objects)

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        with self._lock:
            target = self._find(KIND_PLURALS[plural], name)
            target["status"] = {**target.get("status", {}), **status}

    def reconcile(self, namespace: str) -> bool:
        """Plan the namespace as the operator does (compile, conditions, Events), apply its statuses,
        write the file; the compiled config is kept for the tests (`self.config`)."""
        with self._lock:
            desired = plan_namespace(
                Snapshot(namespace, copy.deepcopy(self.objects), {}), now=datetime.now(UTC)
            )
            for update in desired.statuses:
                target = self._find(update.kind, update.name)
                target["status"] = {**target.get("status", {}), **update.status}
            self.events += desired.events
            self.config = next(o for o in desired.objects if o["kind"] == "ConfigMap")["data"]["config.json"]
            partial = self.directory / ".config.json.tmp"
            partial.write_text(self.config)
            partial.replace(self.config_file)  # atomically, as the kubelet swaps the mounted files
        return True

    @property
    def config_file(self) -> Path:
        return self.directory / "config.json"

    def compiled(self) -> dict[str, Any]:
        with self._lock:
            result: dict[str, Any] = json.loads(self.config)
            return result

    def status_of(self, kind: str, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._find(kind, name).get("status", {}))

    def _find(self, kind: str, name: str) -> dict[str, Any]:
        return next(o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name)


def served_version(stack: Stack) -> str:
    return str(json.loads(http("GET", f"{stack.url}/switchboard/config").body)["version"])


def sidecar_requests(stack: Stack, variant: str) -> float:
    return read_metric(stack.get("/metrics").body.decode(), "switchboard_requests_total", variant=variant)
