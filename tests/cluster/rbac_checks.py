"""`kubectl auth can-i --as` tables for the operator's ServiceAccount: every verb the operator uses (each row
says which code path uses it) must be allowed, and a list of verbs it does not need must be refused.

A row is (verb, resource[/name], namespace or "" for cluster-scoped, subresource or "").
"""

from __future__ import annotations

from kubectl_cli import Kubectl

Check = tuple[str, str, str, str]
SB = "switchboard.dev"
KINDS = ("modelendpoints", "fallbackpolicies", "modelroutes")


def used(release: str, release_namespace: str, watched: str) -> list[Check]:
    """What the operator does, in a namespace it watches (`watched`)."""
    return [
        # Kopf's watches and annotations; reconcile lists
        *((verb, f"{kind}.{SB}", watched, "") for kind in KINDS for verb in ("list", "watch", "patch")),
        *(("patch", f"{plural}.{SB}", watched, "status") for plural in ("modelendpoints", "modelroutes")),
        ("get", "secrets/openai", watched, ""),  # a referenced key
        ("list", "secrets", watched, ""),
        ("watch", "secrets", watched, ""),  # a rotated key recompiles at once
        ("create", "configmaps", watched, ""),  # the first server-side apply
        ("get", "configmaps/switchboard-config", watched, ""),
        ("patch", "configmaps/switchboard-config", watched, ""),
        ("watch", "configmaps/switchboard-config", watched, ""),  # granted on to the namespace's sidecars
        ("create", "secrets", watched, ""),
        ("patch", "secrets/switchboard-credentials", watched, ""),
        ("create", "roles.rbac.authorization.k8s.io", watched, ""),
        ("patch", "roles.rbac.authorization.k8s.io/switchboard-config-reader", watched, ""),
        ("create", "rolebindings.rbac.authorization.k8s.io", watched, ""),
        ("patch", "rolebindings.rbac.authorization.k8s.io/switchboard-config-reader", watched, ""),
        ("create", "events", watched, ""),
        ("get", f"mutatingwebhookconfigurations.admissionregistration.k8s.io/{release}", "", ""),
        ("patch", f"mutatingwebhookconfigurations.admissionregistration.k8s.io/{release}", "", ""),
        ("get", f"secrets/{release}-webhook-tls", release_namespace, ""),
        ("update", f"secrets/{release}-webhook-tls", release_namespace, ""),
    ]  # fmt: skip


def peering_used(release: str, scope: str) -> list[Check]:
    """The peering object: a ClusterKopfPeering (scope "") or a KopfPeering in `scope`."""
    kind = "kopfpeerings.kopf.dev" if scope else "clusterkopfpeerings.kopf.dev"
    return [("list", kind, scope, ""), ("watch", kind, scope, ""), ("get", f"{kind}/{release}", scope, ""),
            ("patch", f"{kind}/{release}", scope, "")]  # fmt: skip


def refused(release: str, release_namespace: str, watched: str) -> list[Check]:
    """What the operator never does, so must not be able to do."""
    return [
        ("delete", "secrets/openai", watched, ""),
        ("update", "secrets/switchboard-credentials", watched, ""),
        ("patch", "secrets/openai", watched, ""),  # users' Secrets are read, never written
        ("get", "configmaps/kube-root-ca.crt", watched, ""),
        ("patch", "configmaps/someone-elses", watched, ""),
        ("delete", "configmaps/switchboard-config", watched, ""),
        ("create", f"modelroutes.{SB}", watched, ""),
        ("delete", f"modelroutes.{SB}/chat", watched, ""),
        ("update", f"modelroutes.{SB}/chat", watched, ""),
        ("create", "pods", watched, ""),
        ("delete", "pods", watched, ""),
        ("create", "serviceaccounts/token", watched, ""),
        ("patch", "deployments.apps", watched, ""),
        ("bind", "roles.rbac.authorization.k8s.io", watched, ""),
        ("escalate", "roles.rbac.authorization.k8s.io", watched, ""),
        ("patch", "roles.rbac.authorization.k8s.io/admin", watched, ""),
        ("create", "clusterroles.rbac.authorization.k8s.io", "", ""),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io", "", ""),
        ("impersonate", "users", "", ""),
        ("get", "nodes", "", ""),
        ("list", "namespaces", "", ""),  # Kopf's scanning is off: the kinds are known at start
        ("list", "customresourcedefinitions.apiextensions.k8s.io", "", ""),
        ("patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/other-webhook", "", ""),
        ("delete", f"mutatingwebhookconfigurations.admissionregistration.k8s.io/{release}", "", ""),
        ("create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "", ""),
        ("create", "validatingwebhookconfigurations.admissionregistration.k8s.io", "", ""),
        ("update", "secrets/another-secret", release_namespace, ""),
        ("delete", f"secrets/{release}-webhook-tls", release_namespace, ""),
        ("create", "leases.coordination.k8s.io", release_namespace, ""),
    ]


def can_i(kubectl: Kubectl, service_account: str, check: Check) -> bool:
    verb, resource, namespace, subresource = check
    arguments = ["auth", "can-i", verb, resource, f"--as={service_account}"]
    arguments += ["-n", namespace] if namespace else []
    arguments += [f"--subresource={subresource}"] if subresource else []
    result = kubectl(*arguments)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


def wrong_answers(
    kubectl: Kubectl, service_account: str, *, allowed: list[Check], denied: list[Check]
) -> list[str]:
    """The rows whose answer is not the expected one ([] when RBAC is exactly right)."""
    wrong = [f"refused but used: {c}" for c in allowed if not can_i(kubectl, service_account, c)]
    wrong += [f"allowed but never used: {c}" for c in denied if can_i(kubectl, service_account, c)]
    return wrong
