"""What the chart grants and whom the webhook sees, as rendered: RBAC lists exactly the operator's verbs (the
cluster tier checks them with `kubectl auth can-i`), nothing broad; the webhook only ever sees labelled pods
outside system namespaces (and, for a namespaced operator, only in its namespaces); the Deployment runs
restricted, with probes and peering."""

from __future__ import annotations

from typing import Any

import pytest

from support.charts import EVERYTHING_ON, render

pytestmark = pytest.mark.chart

FORBIDDEN_VERBS = {"*", "delete", "deletecollection", "escalate", "bind", "impersonate", "update"}
NAMESPACED = {"operator.allNamespaces": "false", "operator.watchNamespaces": "{team-a,team-b}"}


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    """(apiGroup, resource, resourceName or '*', verb) for every rule."""
    return {
        (group, resource, name, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for name in rule.get("resourceNames") or ["*"]
        for verb in rule["verbs"]
    }


# The only exceptions: the webhook's certificate Secret is renewed by update (guarded by its
# resourceVersion), and `helm test` deletes the one endpoint and route it created.
EXCEPTIONS = {
    ("switchboard", "secrets", "switchboard-webhook-tls", "update"),
    ("switchboard-helm-test", "modelendpoints", "switchboard-helm-test", "delete"),
    ("switchboard-helm-test", "modelroutes", "switchboard-helm-test", "delete"),
}


def test_no_role_grants_anything_broad() -> None:
    for values in ({}, NAMESPACED):
        rendered = render(values=values)
        for role in rendered.of_kind("ClusterRole") + rendered.of_kind("Role"):
            owner = role["metadata"]["name"].removesuffix("-webhook-tls")
            for group, resource, name, verb in grants(role["rules"]):
                assert "*" not in (group, resource), role["metadata"]
                assert verb not in FORBIDDEN_VERBS or (owner, resource, name, verb) in EXCEPTIONS, (
                    role["metadata"]["name"],
                    group,
                    resource,
                    verb,
                )


def test_a_namespaced_operator_has_a_role_per_namespace_and_a_cluster_role_for_the_webhook_only() -> None:
    rendered = render(values=NAMESPACED)
    (cluster_role,) = rendered.of_kind("ClusterRole")
    assert grants(cluster_role["rules"]) == {
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "switchboard", "get"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "switchboard", "patch"),
    }
    roles = {
        r["metadata"]["namespace"] for r in rendered.of_kind("Role") if r["metadata"]["name"] == "switchboard"
    }
    assert roles == {"switchboard-system", "team-a", "team-b"}
    bindings = [b for b in rendered.of_kind("RoleBinding") if b["metadata"]["name"] == "switchboard"]
    assert all(b["subjects"][0]["name"] == "switchboard" for b in bindings) and len(bindings) == 3


def test_a_cluster_wide_operator_gets_the_namespace_rules_cluster_wide() -> None:
    (cluster_role,) = render().of_kind("ClusterRole")
    granted = grants(cluster_role["rules"])
    assert ("kopf.dev", "clusterkopfpeerings", "switchboard", "patch") in granted
    assert ("", "configmaps", "switchboard-config", "patch") in granted
    assert ("", "configmaps", "*", "patch") not in granted


def test_the_webhook_never_sees_system_namespaces_or_unlabelled_pods() -> None:
    webhook = render().one("MutatingWebhookConfiguration")["webhooks"][0]
    assert webhook["objectSelector"] == {"matchLabels": {"switchboard.dev/inject": "true"}}
    (expression,) = webhook["namespaceSelector"]["matchExpressions"]
    assert expression["operator"] == "NotIn"
    assert {"kube-system", "kube-public", "kube-node-lease"} <= set(expression["values"])
    assert webhook["failurePolicy"] == "Fail" and webhook["sideEffects"] == "None"
    assert webhook["clientConfig"]["service"] == {
        "name": "switchboard",
        "namespace": "switchboard-system",
        "port": 443,
        "path": "/inject-sidecar",
    }
    assert "caBundle" not in webhook["clientConfig"]  # the operator writes it; helm upgrade keeps it


def test_a_namespaced_operator_s_webhook_sees_only_its_namespaces() -> None:
    webhook = render(EVERYTHING_ON).one("MutatingWebhookConfiguration")
    expressions = webhook["webhooks"][0]["namespaceSelector"]["matchExpressions"]
    assert expressions == [
        {
            "key": "kubernetes.io/metadata.name",
            "operator": "In",
            "values": ["switchboard-system", "team-a", "team-b"],
        },
        {"key": "switchboard.dev/injection", "operator": "In", "values": ["enabled"]},
    ]
    assert webhook["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "switchboard-system/switchboard-webhook"
    }


def test_the_operator_runs_restricted_with_probes_peering_and_its_own_field_manager() -> None:
    deployment = render().one("Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["seccompProfile"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"startupProbe", "livenessProbe", "readinessProbe", "resources"} <= set(container)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert "--peering=switchboard" in container["args"] and "--all-namespaces" in container["args"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert deployment["spec"]["replicas"] == 2


def test_cert_manager_mode_mounts_the_certificate_and_keeps_no_secret_of_its_own() -> None:
    rendered = render(EVERYTHING_ON)
    container = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "--webhook-cert=/etc/switchboard/webhook/tls.crt" in container["args"]
    assert not any(a.startswith("--webhook-tls-secret") for a in container["args"])
    assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"] == "switchboard-webhook-tls"]
    assert (
        rendered.one("Certificate", "switchboard-webhook")["spec"]["secretName"] == "switchboard-webhook-tls"
    )
