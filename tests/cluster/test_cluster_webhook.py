"""Sidecar injection through the real admission chain: the operator serves Kopf's mutating webhook on
127.0.0.1 with a certificate made here, Kopf writes MutatingWebhookConfiguration `switchboard.dev`, and the
API server calls it for every labelled Pod. There is no kubelet, so Pods stay Pending: what is checked is
the Pod as stored.

The webhook configuration is cluster-scoped and fails closed for labelled Pods, so it is deleted after
the test whatever happens (and before, in case an earlier run was killed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from certificates import make_certificates
from kubectl_cli import Kubectl
from operator_process import Operator

from support.processes import free_port
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120, func_only=True)]

WEBHOOK = "switchboard.dev"
CONFIGURATION_KINDS = ("mutatingwebhookconfiguration", "validatingwebhookconfiguration")


@pytest.fixture
def webhook_cleanup(kubectl: Kubectl) -> Iterator[None]:
    """Remove Kopf's webhook configurations before and after (torn down after the operator stopped)."""

    def remove() -> None:
        for kind in CONFIGURATION_KINDS:
            kubectl("delete", kind, WEBHOOK, "--ignore-not-found", check=True)

    remove()
    yield
    remove()


def pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_labelled_pods_get_the_sidecar_and_others_are_untouched(
    kubectl: Kubectl,
    namespace: str,
    webhook_cleanup: None,
    operator: Callable[..., Operator],
    tmp_path: Path,
) -> None:
    files = make_certificates(tmp_path / "pki")
    port = free_port()
    running = operator(
        namespace,
        *("--webhook-port", str(port), "--webhook-host", "127.0.0.1"),
        *("--webhook-cert", str(files["tls.crt"]), "--webhook-key", str(files["tls.key"])),
        *("--webhook-ca", str(files["ca.crt"])),
    )
    configuration = wait_until(
        lambda: (
            (found := kubectl.find("mutatingwebhookconfiguration", WEBHOOK, namespace=namespace))
            and found.get("webhooks")
            and found
        ),
        timeout=30,
        what=f"MutatingWebhookConfiguration {WEBHOOK} with a webhook",
    )
    (hook,) = configuration["webhooks"]
    assert hook["clientConfig"]["url"].startswith(f"https://127.0.0.1:{port}/"), hook["clientConfig"]
    assert hook["objectSelector"]["matchExpressions"] == [
        {"key": "switchboard.dev/inject", "operator": "In", "values": ["true"]}
    ]
    assert [r["resources"] for r in hook["rules"]] == [["pods"]] and hook["rules"][0]["operations"] == [
        "CREATE"
    ]
    wait_until(
        lambda: kubectl.find("serviceaccount", "default", namespace=namespace),
        timeout=30,
        what="the default service account (Pods need it)",
    )

    documents = [pod("injected", {"switchboard.dev/inject": "true"}), pod("plain", {"app": "plain"})]
    kubectl("-n", namespace, "create", "-f", "-", input=yaml.safe_dump_all(documents), check=True)

    stored = kubectl.find("pod", "injected", namespace=namespace)
    assert stored is not None
    spec = stored["spec"]
    sidecar = spec["initContainers"][0]
    assert sidecar["name"] == "switchboard-proxy" and sidecar["restartPolicy"] == "Always"
    assert "$(POD_NAMESPACE)/switchboard-config" in sidecar["args"]
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert sidecar["securityContext"]["runAsNonRoot"] is True
    assert sidecar["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = by_name(spec["volumes"])
    assert volumes["switchboard-config"]["configMap"]["name"] == "switchboard-config"
    assert volumes["switchboard-credentials"]["secret"]["secretName"] == "switchboard-credentials"
    assert {m["name"] for m in sidecar["volumeMounts"]} >= {"switchboard-config", "switchboard-credentials"}
    env = by_name(spec["containers"][0]["env"])
    assert env["OPENAI_BASE_URL"]["value"] == "http://127.0.0.1:8787/v1"
    assert stored["metadata"]["annotations"]["switchboard.dev/injected"] == "true"

    plain = kubectl.find("pod", "plain", namespace=namespace)
    assert plain is not None
    assert "initContainers" not in plain["spec"], plain["spec"]
    assert "env" not in plain["spec"]["containers"][0]
    assert "switchboard.dev/injected" not in (plain["metadata"].get("annotations") or {})
    assert {v["name"] for v in plain["spec"]["volumes"]}.isdisjoint(
        {"switchboard-config", "switchboard-credentials"}
    )

    # Stopping the operator withdraws the webhook (Kopf's cleanup), so labelled Pods are not blocked by a
    # webhook nobody serves; they are simply no longer injected.
    assert running.stop() == 0
    left = kubectl.find("mutatingwebhookconfiguration", WEBHOOK, namespace=namespace)
    assert left is None or not left.get("webhooks"), left
    later = [pod("later", {"switchboard.dev/inject": "true"})]
    kubectl("-n", namespace, "create", "-f", "-", input=yaml.safe_dump_all(later), check=True)
    assert "initContainers" not in kubectl.find("pod", "later", namespace=namespace)["spec"]
