"""Pods on the test node, and the reads the node tests repeat.

- `sim_documents`: switchboard-sim as a pod of the Switchboard image (read-only root filesystem, non-root,
  Pod Security `restricted`), its profiles in a ConfigMap;
- `demo_pod`: the demo app (tests/cluster/demo_app) labelled for injection; it configures nothing itself;
- `example_documents`: the repository's examples/ with every endpoint pointing at the sim pod;
- reads: a pod's IP and readiness, the app's `DEMO {json}` log lines, the sidecar's admin port from the
  host (`/readyz`, `/metrics`: the config version it serves), and a request made from inside the pod
  (`kubectl exec` in the app container, to the sidecar on 127.0.0.1:8787);
- `start_webhook_operator`: the operator as a local process with its webhook on 127.0.0.1, injecting the
  image `make image` loaded; `wait_pod_ready`, `remove_webhook`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from certificates import make_certificates
from kubectl_cli import Kubectl
from operator_process import Operator, start_operator

from support.processes import REPO_ROOT, free_port
from support.stack import Reply, http, read_metric
from support.waiting import wait_until

WEBHOOK = "switchboard.dev"
IMAGES_SH = REPO_ROOT / "tests" / "cluster" / "images.sh"
SIM_PORT = 9100
MODEL_PORT = 8787
ADMIN_PORT = 8788
DEMO_PREFIX = "DEMO "
POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
_VERSION = re.compile(r'^switchboard_config_info\{version="([^"]+)"\} 1\.0$', re.MULTILINE)

IN_POD_REQUEST = """
import json, sys, urllib.error, urllib.request
body = {"model": sys.argv[1], "messages": [{"role": "user", "content": "hello from inside"}]}
request = urllib.request.Request(
    "http://127.0.0.1:8787/v1/chat/completions", data=json.dumps(body).encode(),
    headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        status, headers = response.status, dict(response.headers)
except urllib.error.HTTPError as error:
    status, headers = error.code, dict(error.headers)
print(json.dumps({"status": status, "headers": {k: v for k, v in headers.items()
                                                if k.lower().startswith("x-switchboard-")}}))
"""


def image_names() -> dict[str, str]:
    """{"switchboard": ..., "demo": ..., "pause": ...}: what `make image` builds and loads."""
    names = subprocess.run(
        [str(IMAGES_SH), "names"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    return dict(zip(("switchboard", "demo", "pause"), names, strict=True))


def restricted_namespace(name: str) -> dict[str, Any]:
    """A namespace that enforces Pod Security `restricted`."""
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def sim_documents(profiles: dict[str, dict[str, Any]], *, image: str) -> list[dict[str, Any]]:
    """ConfigMap `sim-profiles` and Pod `sim` serving them on port 9100."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "sim-profiles"},
        "data": {"sim.yaml": yaml.safe_dump({"models": profiles})},
    }
    container = {
        "name": "sim",
        "image": image,
        "imagePullPolicy": "Never",
        "command": ["switchboard-sim", "--host", "0.0.0.0", "--port", str(SIM_PORT)],
        "args": ["--config", "/etc/sim/sim.yaml"],
        "ports": [{"name": "http", "containerPort": SIM_PORT}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
        "securityContext": {**CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "profiles", "mountPath": "/etc/sim", "readOnly": True}],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sim", "labels": {"app": "sim"}},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "securityContext": POD_SECURITY,
            "containers": [container],
            "volumes": [{"name": "profiles", "configMap": {"name": "sim-profiles"}}],
        },
    }
    return [config, pod]


def demo_pod(name: str, *, image: str, long_stream_route: str) -> dict[str, Any]:
    """The demo app, labelled for injection; nothing in it names the sidecar, a URL or a key."""
    app = {
        "name": "app",
        "image": image,
        "imagePullPolicy": "Never",
        "env": [{"name": "DEMO_LONG_STREAM_ROUTE", "value": long_stream_route}],
        "securityContext": CONTAINER_SECURITY,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "demo", "switchboard.dev/inject": "true"}},
        "spec": {"terminationGracePeriodSeconds": 30, "securityContext": POD_SECURITY, "containers": [app]},
    }


def example_documents(sim_url: str) -> list[dict[str, Any]]:
    """examples/*.yaml, every ModelEndpoint's url pointing at the sim (`sim_url` + /v1)."""
    documents: list[dict[str, Any]] = []
    for path in sorted(Path(REPO_ROOT / "examples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "ModelEndpoint":
                document["spec"]["url"] = f"{sim_url}/v1"
            if document:
                documents.append(document)
    return documents


def pod_ip(kubectl: Kubectl, namespace: str, name: str) -> str:
    found = kubectl.find("pod", name, namespace=namespace)
    return str(((found or {}).get("status") or {}).get("podIP") or "")


def is_ready(pod: dict[str, Any] | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def restart_counts(pod: dict[str, Any]) -> dict[str, int]:
    """Restarts of every container, the native sidecar (an init container) included."""
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return {s["name"]: int(s.get("restartCount", 0)) for s in statuses}


def demo_records(kubectl: Kubectl, namespace: str, pod: str) -> list[dict[str, Any]]:
    """The app container's `DEMO {json}` lines, parsed."""
    logs = kubectl("logs", pod, "-c", "app", "-n", namespace).stdout
    return parse_demo_lines(logs)


def parse_demo_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        _, found, rest = line.partition(DEMO_PREFIX)
        if found:
            records.append(json.loads(rest))
    return records


def admin(ip: str, path: str) -> Reply:
    """GET on the pod's admin port, from the host."""
    return http("GET", f"http://{ip}:{ADMIN_PORT}{path}", timeout=5)


def served_version(ip: str) -> str:
    """The config version the pod's sidecar serves (switchboard_config_info on its admin port)."""
    found = _VERSION.findall(admin(ip, "/metrics").body.decode())
    return found[0] if len(found) == 1 else ""


def reloads_applied(ip: str) -> float:
    return read_metric(
        admin(ip, "/metrics").body.decode(), "switchboard_config_reloads_total", result="applied"
    )


def in_pod_request(kubectl: Kubectl, namespace: str, pod: str, route: str) -> dict[str, Any]:
    """A chat completion sent from the app container to the sidecar on 127.0.0.1:8787:
    {"status": ..., "headers": {X-Switchboard-*}}."""
    result = kubectl(
        "exec", pod, "-n", namespace, "-c", "app", "--",
        "/opt/demo/bin/python", "-c", IN_POD_REQUEST, route,
        check=True,
    )  # fmt: skip
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def remove_webhook(kubectl: Kubectl) -> None:
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        kubectl("delete", kind, WEBHOOK, "--ignore-not-found", check=True)


def wait_pod_ready(kubectl: Kubectl, namespace: str, name: str, *, timeout: float = 90) -> dict[str, Any]:
    """The pod once Ready; if it never gets there, the failure shows `kubectl describe` and its logs."""
    try:
        found: dict[str, Any] = wait_until(
            lambda: (pod := kubectl.find("pod", name, namespace=namespace)) and is_ready(pod) and pod,
            timeout=timeout,
            interval=0.25,
            what=f"pod {namespace}/{name} Ready",
        )
    except AssertionError as exc:
        described = kubectl("describe", "pod", name, "-n", namespace).stdout
        logs = kubectl("logs", name, "-n", namespace, "--all-containers", "--tail=30").stdout
        raise AssertionError(f"{exc}\n{described[-4000:]}\n--- logs ---\n{logs}") from None
    return found


def start_webhook_operator(
    kubectl: Kubectl, namespace: str, directory: Path, *extra: str
) -> tuple[Operator, tuple[str, ...]]:
    """The operator for `namespace` with its webhook on 127.0.0.1 (certificates made in `directory`),
    once its MutatingWebhookConfiguration exists; also the arguments it was started with (`extra` last)."""
    files = make_certificates(directory)
    args = (
        *("--webhook-port", str(free_port()), "--webhook-host", "127.0.0.1"),
        *("--webhook-cert", str(files["tls.crt"]), "--webhook-key", str(files["tls.key"])),
        *("--webhook-ca", str(files["ca.crt"])),
        *("--sidecar-image", image_names()["switchboard"], "--sidecar-image-pull-policy", "Never"),
        *extra,
    )
    running = start_operator(namespace, *args, kubeconfig=kubectl.kubeconfig)
    wait_until(
        lambda: (
            (found := kubectl.find("mutatingwebhookconfiguration", WEBHOOK, namespace=namespace))
            and found.get("webhooks")
        ),
        timeout=30,
        what="the operator's MutatingWebhookConfiguration",
    )
    return running, args
