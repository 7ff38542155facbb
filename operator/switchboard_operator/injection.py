"""`inject_sidecar(pod, settings)`: the pod with the Switchboard sidecar added (pure; the webhook applies it).

For pods labelled `switchboard.dev/inject: "true"`:
- the proxy as a native sidecar (an init container with `restartPolicy: Always`, first, so it is ready
  before the app starts and stops after it), with a restricted security context and modest resources;
- two listeners: the model API on 127.0.0.1:8787 only (nothing outside the pod may spend its keys), and
  the admin listener (/healthz, /readyz, /metrics) on 0.0.0.0:8788, declared as container port
  `sb-admin`, which the startup and liveness (/healthz) and readiness (/readyz) probes and Prometheus
  use; the startup probe holds the app containers back until the sidecar listens;
- the ConfigMap and the credentials Secret as read-only volumes (optional, so a pod created before the
  operator's first reconcile still starts; the sidecar then reports not ready until a config appears);
- `--watch-configmap` so changes arrive in seconds rather than at the kubelet's next sync;
- `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` pointing at the sidecar, and `OPENAI_API_KEY` /
  `ANTHROPIC_API_KEY` set to a non-secret placeholder, for every app container that does not list them in
  its own `env` (the SDKs refuse to start without a key; the sidecar holds the real ones and ignores
  what the app sends).
The pod is annotated with the sidecar's image, so that the pods injected before an upgrade (which keep
their sidecar until they are recreated) can be listed. Injecting twice changes nothing: a pod that
already has the sidecar is returned as it is.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .objects import CONFIG_MAP, CREDENTIALS_SECRET

SIDECAR_NAME = "switchboard-proxy"
DEFAULT_IMAGE = "localhost/switchboard:0.1.0"  # what `make image` (tests/cluster/images.sh) builds
ADMIN_PORT_NAME = "sb-admin"
PLACEHOLDER_KEY = "switchboard-sidecar-holds-the-key"  # not a secret: the sidecar never forwards it
INJECT_LABEL = "switchboard.dev/inject"
INJECTED_ANNOTATION = "switchboard.dev/injected"
IMAGE_ANNOTATION = "switchboard.dev/sidecar-image"  # which pods still run an old sidecar after an upgrade
CONFIG_DIR = "/etc/switchboard/config"
CREDENTIALS_DIR = "/etc/switchboard/credentials"


@dataclass(frozen=True)
class InjectionSettings:
    """What the injected sidecar looks like."""

    image: str = DEFAULT_IMAGE
    image_pull_policy: str = "IfNotPresent"
    port: int = 8787  # the model API, on 127.0.0.1 only
    admin_port: int = 8788  # /healthz, /readyz, /metrics on every address of the pod
    cpu_request: str = "50m"
    memory_request: str = "64Mi"
    memory_limit: str = "256Mi"


def wants_injection(pod: dict[str, Any]) -> bool:
    return str((pod.get("metadata") or {}).get("labels", {}).get(INJECT_LABEL, "")).lower() == "true"


def is_injected(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return any(c.get("name") == SIDECAR_NAME for c in spec.get("initContainers") or [])


def _probes() -> dict[str, Any]:
    """Startup, readiness and liveness, all on the admin port (the kubelet probes the pod IP, where the
    model API does not listen)."""
    probe = {
        "httpGet": {"path": "/readyz", "port": ADMIN_PORT_NAME},
        "periodSeconds": 2,
        "failureThreshold": 3,
    }
    return {
        # A native sidecar's startup probe holds the app containers back until the sidecar listens, so an
        # app's first call never meets a closed port (/healthz: a sidecar still waiting for its first
        # config has started; it is only not ready).
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": ADMIN_PORT_NAME},
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
        "readinessProbe": probe,
        "livenessProbe": {
            **probe,
            "httpGet": {"path": "/healthz", "port": ADMIN_PORT_NAME},
            "periodSeconds": 10,
        },
    }


def sidecar_container(settings: InjectionSettings) -> dict[str, Any]:
    return {
        "name": SIDECAR_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "restartPolicy": "Always",
        "command": ["switchboard-proxy"],
        "args": [
            "--config",
            f"{CONFIG_DIR}/config.json",
            "--credentials-dir",
            CREDENTIALS_DIR,
            "--watch-configmap",
            f"$(POD_NAMESPACE)/{CONFIG_MAP}",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.port),
            "--admin-host",
            "0.0.0.0",
            "--admin-port",
            str(settings.admin_port),
        ],
        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [{"name": ADMIN_PORT_NAME, "containerPort": settings.admin_port, "protocol": "TCP"}],
        **_probes(),
        "resources": {
            "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
            "limits": {"memory": settings.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,  # else the primary group is root's (uid 65532 has no passwd entry)
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "switchboard-config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "switchboard-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True},
        ],
    }


def _volumes() -> list[dict[str, Any]]:
    return [
        {"name": "switchboard-config", "configMap": {"name": CONFIG_MAP, "optional": True}},
        {"name": "switchboard-credentials", "secret": {"secretName": CREDENTIALS_SECRET, "optional": True}},
    ]


def _app_env(settings: InjectionSettings) -> list[dict[str, str]]:
    base = f"http://127.0.0.1:{settings.port}"
    return [
        {"name": "OPENAI_BASE_URL", "value": f"{base}/v1"},
        {"name": "ANTHROPIC_BASE_URL", "value": base},
        {"name": "OPENAI_API_KEY", "value": PLACEHOLDER_KEY},
        {"name": "ANTHROPIC_API_KEY", "value": PLACEHOLDER_KEY},
    ]


def inject_sidecar(pod: dict[str, Any], settings: InjectionSettings) -> dict[str, Any]:
    """A copy of `pod` with the sidecar, volumes, base URLs and placeholder keys added (unchanged if
    already injected)."""
    if is_injected(pod):
        return pod
    result = copy.deepcopy(pod)
    spec = result.setdefault("spec", {})
    spec["initContainers"] = [sidecar_container(settings), *(spec.get("initContainers") or [])]
    taken = {v.get("name") for v in spec.get("volumes") or []}
    spec["volumes"] = [*(spec.get("volumes") or []), *(v for v in _volumes() if v["name"] not in taken)]
    for container in spec.get("containers") or []:
        present = {e.get("name") for e in container.get("env") or []}
        container["env"] = [
            *(container.get("env") or []),
            *(e for e in _app_env(settings) if e["name"] not in present),
        ]
    metadata = result.setdefault("metadata", {})
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        INJECTED_ANNOTATION: "true",
        IMAGE_ANNOTATION: settings.image,
    }
    return result
