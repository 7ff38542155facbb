"""`helm install` of charts/switchboard on the node, with its defaults (every namespace, two replicas, the
operator's own self-signed webhook CA): the operator runs as pods under the chart's ServiceAccount and
reconciles the examples; its webhook, served from those pods through their Service, injects the demo app,
which becomes Ready and answers; `helm test` passes; RBAC is exactly what the operator uses; certificates
are renewed (serving certificate and CA) without a refused pod; `helm uninstall` leaves nothing
cluster-scoped but the CRDs.

The tests run in file order on one release and one demo namespace.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chart_demo import calls, deploy_demo
from chart_release import Release
from kubectl_cli import Kubectl
from node_pods import is_ready
from rbac_checks import peering_used, refused, used, wrong_answers

from support.waiting import wait_until
from switchboard_operator.certificates import (
    CA_CERT,
    TLS_CERT,
    issue_serving,
    new_authority,
    service_hosts,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300, func_only=True)]

RELEASE = "sb-chart-switchboard"
VALUES = {"webhook.certificates.checkSeconds": "2"}
SLOW_INSTALL_SECONDS = 30


@dataclass
class Installed:
    release: Release
    demo_namespace: str
    demo_pod: str


@pytest.fixture(scope="module")
def installed(kubectl: Kubectl, report: Callable[[str], None]) -> Iterator[Installed]:
    release = Release(RELEASE, f"sb-chart-{uuid.uuid4().hex[:6]}", kubectl)
    release.install(VALUES)
    report(f"helm install (defaults, 2 replicas, --wait): {release.timings['install']:.1f} s")
    if release.timings["install"] > SLOW_INSTALL_SECONDS:  # say why, for the next person who reads this
        events = kubectl("get", "events", "-n", release.namespace, "--sort-by=.lastTimestamp").stdout
        report(f"slow install; its namespace's events:\n{events[-3000:]}\n{release.operator_logs()[-3000:]}")
    demo = f"sb-chart-demo-{uuid.uuid4().hex[:6]}"
    try:
        pod = deploy_demo(kubectl, demo)
        yield Installed(release, demo, pod)
    finally:
        release.uninstall()
        for namespace in (demo, release.namespace):
            kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def test_the_operator_runs_as_ready_pods_under_the_chart_s_service_account(installed: Installed) -> None:
    pods = installed.release.wait_operators_ready(2)
    assert {p["spec"]["serviceAccountName"] for p in pods} == {RELEASE}
    security = pods[0]["spec"]["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"] == {"drop": ["ALL"]}
    leader = installed.release.leader()
    assert leader in {p["metadata"]["name"] for p in pods}


def test_the_examples_are_reconciled_and_the_demo_app_is_injected_and_served(
    kubectl: Kubectl, installed: Installed
) -> None:
    pod = kubectl.find("pod", installed.demo_pod, namespace=installed.demo_namespace)
    assert pod is not None and is_ready(pod)
    sidecars = [c["name"] for c in pod["spec"]["initContainers"]]
    assert sidecars == ["switchboard-proxy", "sim"]
    records = wait_until(
        lambda: (
            (found := calls(kubectl, installed.demo_namespace, installed.demo_pod))
            and len(found) >= 6
            and found
        ),
        timeout=60,
        what="the demo app's calls",
    )
    assert all(r["ok"] for r in records), [r for r in records if not r["ok"]]
    assert {r["route"] for r in records} == {"chat", "tab-completion"}
    assert {r["endpoint"] for r in records if r["route"] == "chat"} == {"capable"}


def test_the_webhook_is_served_from_the_operator_pods_through_their_service(
    kubectl: Kubectl, installed: Installed
) -> None:
    configuration = kubectl.get_json("mutatingwebhookconfiguration", RELEASE)
    client = configuration["webhooks"][0]["clientConfig"]
    assert (
        client["service"]["name"] == RELEASE and client["service"]["namespace"] == installed.release.namespace
    )
    assert "url" not in client and client["caBundle"]
    injected = sum(
        _metric(
            installed.release.operator_metrics(p), "switchboard_operator_webhook_admissions_total", "injected"
        )
        for p in installed.release.operator_pods()
    )
    assert injected >= 1


def _metric(text: str, name: str, result: str) -> float:
    prefix = f'{name}{{result="{result}"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_unlabelled_pods_and_system_namespaces_are_never_touched(
    kubectl: Kubectl, installed: Installed
) -> None:
    plain = _pod("plain", {})
    kubectl.apply([plain], namespace=installed.demo_namespace)
    stored = kubectl.get_json("pod", "plain", "-n", installed.demo_namespace)
    assert not stored["spec"].get("initContainers")
    labelled = _pod(f"sb-chart-{uuid.uuid4().hex[:6]}", {"switchboard.dev/inject": "true"})
    try:
        kubectl.apply([labelled], namespace="kube-system")
        stored = kubectl.get_json("pod", labelled["metadata"]["name"], "-n", "kube-system")
        assert not stored["spec"].get("initContainers"), "kube-system is excluded by the namespaceSelector"
    finally:
        kubectl("delete", "pod", labelled["metadata"]["name"], "-n", "kube-system", "--wait=false")
        kubectl("delete", "pod", "plain", "-n", installed.demo_namespace, "--wait=false")


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    container = {"name": "app", "image": "localhost/switchboard:0.1.0", "imagePullPolicy": "Never"}
    container |= {"command": ["sleep", "3600"], "securityContext": security}
    spec = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {**spec, "containers": [container], "terminationGracePeriodSeconds": 1}}  # fmt: skip


def test_helm_test_passes(installed: Installed, report: Callable[[str], None]) -> None:
    output = installed.release.test()
    report(f"helm test (reconcile + injected pod): {installed.release.timings['test']:.1f} s")
    assert output.count("Phase:          Succeeded") == 2, output
    assert "ok: ModelRoute" in output and "ok: the sidecar is ready and serves route" in output, output


def test_rbac_is_exactly_what_the_operator_uses(kubectl: Kubectl, installed: Installed) -> None:
    account = f"system:serviceaccount:{installed.release.namespace}:{RELEASE}"
    namespace = installed.demo_namespace
    allowed = used(RELEASE, installed.release.namespace, namespace) + peering_used(RELEASE, "")
    denied = refused(RELEASE, installed.release.namespace, namespace)
    assert not wrong_answers(kubectl, account, allowed=allowed, denied=denied)
    for pod in installed.release.operator_pods():
        logs = kubectl("logs", pod["metadata"]["name"], "-n", installed.release.namespace).stdout
        assert "Forbidden" not in logs and " 403" not in logs, logs[-3000:]


def _served_certificate(pod: dict[str, Any]) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    raw = socket.create_connection((pod["status"]["podIP"], 9443), timeout=5)
    with context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der).encode()


def _tls_secret(kubectl: Kubectl, release: Release) -> dict[str, bytes]:
    secret = kubectl.get_json("secret", f"{RELEASE}-webhook-tls", "-n", release.namespace)
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _write_tls_secret(kubectl: Kubectl, release: Release, data: dict[str, bytes]) -> None:
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    patch = json.dumps([{"op": "replace", "path": "/data", "value": encoded}])
    kubectl(
        "patch",
        "secret",
        f"{RELEASE}-webhook-tls",
        "-n",
        release.namespace,
        "--type=json",
        "-p",
        patch,
        check=True,
    )


def _every_replica_serves(release: Release, certificate: bytes) -> bool:
    return all(_served_certificate(p) == certificate for p in release.operator_pods())


def _a_labelled_pod_is_injected(kubectl: Kubectl, namespace: str) -> None:
    name = f"after-renewal-{uuid.uuid4().hex[:6]}"
    kubectl.apply([_pod(name, {"switchboard.dev/inject": "true"})], namespace=namespace)
    stored = kubectl.get_json("pod", name, "-n", namespace)
    assert [c["name"] for c in stored["spec"]["initContainers"]] == ["switchboard-proxy"]
    kubectl("delete", "pod", name, "-n", namespace, "--wait=false")


def test_a_serving_certificate_due_for_renewal_is_renewed_and_served_by_every_replica(
    kubectl: Kubectl, installed: Installed
) -> None:
    release = installed.release
    data = _tls_secret(kubectl, release)
    hosts = service_hosts(f"{RELEASE}.{release.namespace}.svc")
    # Issued 50 minutes ago for an hour: less than a third of its life is left.
    due = issue_serving(
        data, hosts=hosts, now=datetime.now(UTC) - timedelta(minutes=50), validity=timedelta(hours=1)
    )
    _write_tls_secret(kubectl, release, {**data, **due})
    renewed = wait_until(
        lambda: (
            (now := _tls_secret(kubectl, release))
            and now[TLS_CERT] not in (due[TLS_CERT], data[TLS_CERT])
            and now
        ),
        timeout=30,
        what="the operator renewing the serving certificate",
    )
    assert renewed[CA_CERT] == data[CA_CERT]
    wait_until(
        lambda: _every_replica_serves(release, renewed[TLS_CERT]), timeout=30, what="every replica serving it"
    )
    _a_labelled_pod_is_injected(kubectl, installed.demo_namespace)


def test_a_ca_due_for_renewal_is_replaced_and_the_old_one_stays_trusted(
    kubectl: Kubectl, installed: Installed
) -> None:
    release = installed.release
    now = datetime.now(UTC)
    old_ca = new_authority(now=now - timedelta(hours=8), validity=timedelta(hours=10))
    hosts = service_hosts(f"{RELEASE}.{release.namespace}.svc")
    serving = issue_serving(old_ca, hosts=hosts, now=now - timedelta(hours=8), validity=timedelta(hours=10))
    _write_tls_secret(kubectl, release, {**old_ca, **serving})
    renewed = wait_until(
        lambda: (data := _tls_secret(kubectl, release)) and data[CA_CERT] != old_ca[CA_CERT] and data,
        timeout=30,
        what="the operator renewing the CA",
    )
    assert renewed["ca-previous.crt"] == old_ca[CA_CERT]
    bundle = base64.b64decode(
        kubectl.get_json("mutatingwebhookconfiguration", RELEASE)["webhooks"][0]["clientConfig"]["caBundle"]
    )
    assert bundle == renewed[CA_CERT] + old_ca[CA_CERT]
    wait_until(
        lambda: _every_replica_serves(release, renewed[TLS_CERT]), timeout=30, what="every replica serving it"
    )
    _a_labelled_pod_is_injected(kubectl, installed.demo_namespace)


def test_uninstall_leaves_nothing_cluster_scoped_but_the_crds(kubectl: Kubectl, installed: Installed) -> None:
    release = installed.release
    assert release.cluster_scoped_objects()  # the ClusterRole and friends exist before
    output = release.uninstall()
    assert "These resources were kept due to the resource policy" in output
    assert release.cluster_scoped_objects() == []
    for crd in ("modelendpoints", "fallbackpolicies", "modelroutes"):
        assert kubectl.find("crd", f"{crd}.switchboard.dev", namespace="default") is not None
    assert kubectl.get_json("modelroutes", "-n", installed.demo_namespace)["items"]  # the resources stay too
