"""`Kubectl`: the real kubectl against the local control plane, plus the few reads the cluster tests repeat.

Every call is a `kubectl` process with `KUBECONFIG` pointing at `.cluster/kubeconfig` (written by
`tests/cluster/controlplane.sh up`), so what the tests see is exactly what a user sees on the command line.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KUBECTL = os.environ.get("KUBECTL", "kubectl")
CONFIG_MAP = "switchboard-config"
CREDENTIALS_SECRET = "switchboard-credentials"
SWITCHBOARD_KINDS = "modelendpoints,fallbackpolicies,modelroutes"


@dataclass(frozen=True)
class Kubectl:
    """kubectl with the test cluster's kubeconfig."""

    kubeconfig: Path

    def __call__(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `kubectl ARGS...`; the result whatever the exit code unless `check`."""
        result = subprocess.run(
            [KUBECTL, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result

    def get_json(self, *args: str) -> Any:
        """`kubectl get ARGS... -o json`, parsed (fails the test when kubectl fails)."""
        return json.loads(self("get", *args, "-o", "json", check=True).stdout)

    def find(self, kind: str, name: str, *, namespace: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        result = self("get", kind, name, "-n", namespace, "-o", "json", "--ignore-not-found")
        if result.returncode != 0:
            raise AssertionError(f"kubectl get {kind}/{name} failed:\n{result.stderr}")
        found: dict[str, Any] | None = json.loads(result.stdout) if result.stdout.strip() else None
        return found

    def apply(self, documents: Iterable[dict[str, Any]], *, namespace: str) -> None:
        """`kubectl apply -f -` of resource documents."""
        self("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(list(documents)), check=True)

    def patch(self, kind: str, name: str, patch: dict[str, Any], *, namespace: str) -> None:
        """A JSON merge patch of one object."""
        self("patch", kind, name, "-n", namespace, "--type", "merge", "-p", json.dumps(patch), check=True)

    def switchboard_objects(self, namespace: str) -> list[dict[str, Any]]:
        """Every ModelEndpoint, FallbackPolicy and ModelRoute of the namespace."""
        items: list[dict[str, Any]] = self.get_json(SWITCHBOARD_KINDS, "-n", namespace)["items"]
        return items

    def config_json(self, namespace: str) -> dict[str, Any] | None:
        """The compiled config the operator wrote (ConfigMap switchboard-config), parsed; None if absent."""
        config_map = self.find("configmap", CONFIG_MAP, namespace=namespace)
        if config_map is None:
            return None
        config: dict[str, Any] = json.loads(config_map["data"]["config.json"])
        return config

    def secret_values(self, name: str, *, namespace: str) -> dict[str, str] | None:
        """A Secret's data, decoded; None if it does not exist."""
        secret = self.find("secret", name, namespace=namespace)
        if secret is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}

    def server(self) -> str:
        """The API server's URL (https://127.0.0.1:PORT)."""
        return self(
            "config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.server}", check=True
        ).stdout

    def write_ca(self, path: Path) -> Path:
        """The API server's CA bundle, from the kubeconfig, into `path`."""
        jsonpath = "jsonpath={.clusters[0].cluster.certificate-authority-data}"
        path.write_bytes(base64.b64decode(self("config", "view", "--raw", "-o", jsonpath, check=True).stdout))
        return path

    def events(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get_json("events", "-n", namespace)["items"]
        return items


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The status condition of type `kind` ({} when absent)."""
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    return {}


def is_status(obj: dict[str, Any] | None, kind: str, status: str, reason: str = "") -> bool:
    """Has `obj` condition `kind` with this status (and reason, if given) for its current generation?"""
    if obj is None:
        return False
    found = condition(obj, kind)
    return (
        found.get("status") == status
        and (not reason or found.get("reason") == reason)
        and found.get("observedGeneration") == obj["metadata"].get("generation")
    )


def spec_documents(objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects as a user would write them again: apiVersion, kind, name and spec only."""
    return [
        {
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "metadata": {"name": o["metadata"]["name"]},
            "spec": o["spec"],
        }
        for o in objects
    ]


def is_converged(kubectl: Kubectl, namespace: str) -> bool:
    """Has the operator caught up: a ConfigMap exists, and every object's status is for its current
    generation and names the ConfigMap's version?"""
    config = kubectl.config_json(namespace)
    if config is None:
        return False
    for obj in kubectl.switchboard_objects(namespace):
        status = obj.get("status") or {}
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            return False
        if status.get("configVersion") != config["version"]:
            return False
    return True
