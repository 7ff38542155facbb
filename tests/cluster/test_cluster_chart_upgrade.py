"""`helm upgrade` while the demo app keeps calling through its sidecar: changed values and a new image tag
roll the operator (one new replica at a time, the old leader handing over as it goes), no request fails, a
route change made during the rollout is served, the CRDs of the older chart are brought up to date, the
webhook's CA survives, and the pod injected before keeps its sidecar until it is recreated (the README's
query lists it).
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_demo import calls, demo_pod, deploy_demo
from chart_release import Release, tag_image
from kubectl_cli import Kubectl

from support.charts import CHART
from support.processes import REPO_ROOT
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(360, func_only=True)]

RELEASE = "sb-upgrade-switchboard"
IMAGE, NEXT_TAG = "localhost/switchboard", "0.1.0-next"
CHEAP = "cheap"  # the endpoint the route moves to during the rollout
OLD_DESCRIPTION = "An older chart's ModelRoute."
SIDECAR_QUERY = (
    "custom-columns=NAMESPACE:.metadata.namespace,POD:.metadata.name,"
    "SIDECAR:.metadata.annotations.switchboard\\.dev/sidecar-image"
)


@dataclass
class Running:
    release: Release
    demo_namespace: str
    demo_pod: str


def older_chart(directory: Path) -> Path:
    """The chart as an older version would have shipped it: a ModelRoute CRD with another description."""
    chart = directory / "switchboard"
    shutil.copytree(CHART, chart)
    path = chart / "files" / "crds" / "modelroutes.yaml"
    crd = yaml.safe_load(path.read_text())
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = OLD_DESCRIPTION
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


@pytest.fixture(scope="module")
def running(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    release = Release(RELEASE, f"sb-upgrade-{uuid.uuid4().hex[:6]}", kubectl)
    demo = f"sb-upgrade-demo-{uuid.uuid4().hex[:6]}"
    try:
        release.install({}, chart=older_chart(tmp_path_factory.mktemp("older-chart")))
        pod = deploy_demo(kubectl, demo)
        yield Running(release, demo, pod)
    finally:
        release.uninstall()
        for namespace in (demo, release.namespace):
            kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def route_description(kubectl: Kubectl) -> str:
    crd = kubectl.get_json("crd", "modelroutes.switchboard.dev")
    return str(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"])


def rollout_started(kubectl: Kubectl, release: Release) -> bool:
    """Is a replica of the new image running beside the old ones?"""
    images = {p["spec"]["containers"][0]["image"] for p in release.operator_pods()}
    return f"{IMAGE}:{NEXT_TAG}" in images


def upgrade_in_background(release: Release, values: dict[str, str]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(release.upgrade(values))
        except AssertionError as exc:  # shown by the test, not lost in the thread
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_an_upgrade_rolls_the_operator_while_the_app_keeps_being_served(
    kubectl: Kubectl, running: Running, report: Callable[[str], None]
) -> None:
    release, namespace = running.release, running.demo_namespace
    assert route_description(kubectl) == OLD_DESCRIPTION
    secret = f"{RELEASE}-webhook-tls"
    ca_before = kubectl.get_json("secret", secret, "-n", release.namespace)["data"]["ca.crt"]
    wait_until(lambda: len(calls(kubectl, namespace, running.demo_pod)) >= 6, timeout=60, what="calls before")
    tag_image(f"{IMAGE}:0.1.0", f"{IMAGE}:{NEXT_TAG}")
    values = {"image.tag": NEXT_TAG, "operator.resyncSeconds": "120", "webhook.timeoutSeconds": "10"}
    thread, outcome = upgrade_in_background(release, values)
    wait_until(lambda: rollout_started(kubectl, release), timeout=120, interval=0.2, what="the rollout")
    changed_at = time.time()
    kubectl.patch("modelroute", "chat", {"spec": {"targets": [{"endpoint": "cheap"}]}}, namespace=namespace)
    thread.join(timeout=300)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    took = release.timings["upgrade"]
    report(f"helm upgrade (new image tag and values, 2 replicas rolled, --wait): {took:.1f} s")
    pod = running.demo_pod

    def served_after_the_change() -> list[dict[str, Any]]:
        return [
            r for r in calls(kubectl, namespace, pod) if r["t"] > changed_at and r.get("endpoint") == CHEAP
        ]

    served = wait_until(
        served_after_the_change,
        timeout=30,
        what="the route change made during the rollout being served",
    )
    report(f"route change made during the rollout served after {served[0]['t'] - changed_at:.1f} s")
    records = calls(kubectl, namespace, running.demo_pod)
    failed = [r for r in records if not r["ok"]]
    assert not failed, failed
    report(f"demo app requests through the upgrade: {len(records)}, failed: {len(failed)}")
    pods = release.wait_operators_ready(2)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {f"{IMAGE}:{NEXT_TAG}"}
    assert route_description(kubectl) != OLD_DESCRIPTION  # helm upgrade brought the CRD up to date
    expected = yaml.safe_load((REPO_ROOT / "crds" / "modelroutes.yaml").read_text())
    schema = expected["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert route_description(kubectl) == schema["description"]
    ca_after = kubectl.get_json("secret", secret, "-n", release.namespace)["data"]["ca.crt"]
    assert ca_after == ca_before  # the operator's CA survived the upgrade


def test_pods_injected_before_keep_their_sidecar_until_recreated(kubectl: Kubectl, running: Running) -> None:
    namespace = running.demo_namespace
    selector = "switchboard.dev/inject=true"
    listed = kubectl("get", "pods", "-A", "-l", selector, "-o", SIDECAR_QUERY, check=True).stdout
    line = next(line for line in listed.splitlines() if running.demo_pod in line)
    assert line.split()[-1] == f"{IMAGE}:0.1.0", listed  # the README's query shows who lags
    pod = kubectl.get_json("pod", running.demo_pod, "-n", namespace)
    assert pod["spec"]["initContainers"][0]["image"] == f"{IMAGE}:0.1.0"
    kubectl("rollout", "restart", "deployment/demo", "-n", namespace, check=True)
    kubectl("rollout", "status", "deployment/demo", "-n", namespace, "--timeout=2m", check=True, timeout=150)
    old = running.demo_pod
    fresh = wait_until(
        lambda: (name := demo_pod(kubectl, namespace)) != old and name, timeout=60, what="the new pod"
    )
    recreated = kubectl.get_json("pod", fresh, "-n", namespace)
    assert recreated["spec"]["initContainers"][0]["image"] == f"{IMAGE}:{NEXT_TAG}"
    assert recreated["metadata"]["annotations"]["switchboard.dev/sidecar-image"] == f"{IMAGE}:{NEXT_TAG}"
