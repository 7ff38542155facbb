"""The cluster demo of examples/cluster/ in a namespace: examples/*.yaml and the demo app (the sim beside
it on 127.0.0.1:9100), made exactly as the README's "Try it on kind" makes them, and its `CALL` lines."""

from __future__ import annotations

import json
from typing import Any

import yaml
from kubectl_cli import Kubectl, is_converged
from node_pods import restricted_namespace

from support.processes import REPO_ROOT
from support.waiting import wait_until

DEMO_APP = REPO_ROOT / "examples" / "cluster" / "demo-app.yaml"
APP = REPO_ROOT / "examples" / "cluster" / "app.py"
SIM_PROFILES = REPO_ROOT / "examples" / "demo" / "sim.yaml"
CALL_PREFIX = "CALL "


def deploy_demo(kubectl: Kubectl, namespace: str, *, pause_seconds: float = 0.2) -> str:
    """The namespace (Pod Security restricted), the examples, the demo app; the app's pod once Ready."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump(restricted_namespace(namespace)), check=True)
    kubectl("apply", "-n", namespace, "-f", str(REPO_ROOT / "examples"), check=True)
    kubectl(
        "create", "configmap", "demo-app", "-n", namespace,
        f"--from-file={APP}", f"--from-file={SIM_PROFILES}",
        check=True,
    )  # fmt: skip
    wait_until(
        lambda: is_converged(kubectl, namespace), timeout=60, what=f"the examples compiled in {namespace}"
    )
    app = yaml.safe_load(DEMO_APP.read_text())
    container = app["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "DEMO_PAUSE_SECONDS", "value": str(pause_seconds)}]
    kubectl.apply([app], namespace=namespace)
    kubectl(
        "rollout", "status", "deployment/demo", "-n", namespace, "--timeout=120s", check=True, timeout=150
    )
    return demo_pod(kubectl, namespace)


def demo_pod(kubectl: Kubectl, namespace: str) -> str:
    pods = kubectl.get_json("pods", "-n", namespace, "-l", "app=demo")["items"]
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods]
    return str(running[0]["metadata"]["name"])


def calls(kubectl: Kubectl, namespace: str, pod: str) -> list[dict[str, Any]]:
    """Every `CALL {json}` line the demo app printed so far."""
    logs = kubectl("logs", pod, "-c", "app", "-n", namespace, timeout=60, check=True).stdout
    return [
        json.loads(line[len(CALL_PREFIX) :]) for line in logs.splitlines() if line.startswith(CALL_PREFIX)
    ]


def in_app(kubectl: Kubectl, namespace: str, pod: str, *args: str) -> str:
    """`python3 /app/app.py ARGS` in the app container (a call, a burst, a fault for the sim beside it)."""
    return str(
        kubectl(
            "exec", pod, "-n", namespace, "-c", "app", "--", "python3", "/app/app.py", *args,
            check=True, timeout=120,
        ).stdout
    )  # fmt: skip
