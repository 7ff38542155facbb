"""The Kubernetes objects the operator writes for a namespace, as plain dicts ready for server-side apply.

ConfigMap `switchboard-config` (config.json + its version), Secret `switchboard-credentials` (keys), and
the Role/RoleBinding that let the namespace's pods read exactly that ConfigMap (for the sidecar's
`--watch-configmap`). All are owned by every ModelRoute of the namespace (none as controller): the garbage
collector removes them once the last route is gone.
"""

from __future__ import annotations

from typing import Any

from switchboard_proxy.config import GROUP, VERSION, RouterConfig

CONFIG_MAP = "switchboard-config"
CONFIG_KEY = "config.json"
CREDENTIALS_SECRET = "switchboard-credentials"
ACCESS_ROLE = "switchboard-config-reader"
VERSION_ANNOTATION = "switchboard.dev/config-version"
LABELS = {"app.kubernetes.io/managed-by": "switchboard-operator", "app.kubernetes.io/part-of": "switchboard"}
PLURALS = {
    "ModelEndpoint": "modelendpoints",
    "FallbackPolicy": "fallbackpolicies",
    "ModelRoute": "modelroutes",
}


def owner_references(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every route owns the generated objects; sorted so that the same routes give the same list."""
    return [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ModelRoute",
            "name": r["metadata"]["name"],
            "uid": r["metadata"]["uid"],
            "blockOwnerDeletion": False,
            "controller": False,
        }
        for r in sorted(routes, key=lambda r: r["metadata"]["name"])
    ]


def _metadata(name: str, namespace: str, owners: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(LABELS), "ownerReferences": owners, **extra}


def config_map(namespace: str, config: RouterConfig, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(
            CONFIG_MAP, namespace, owners, annotations={VERSION_ANNOTATION: config.version}
        ),
        "data": {CONFIG_KEY: config.model_dump_json()},
    }


def credentials_secret(namespace: str, data: dict[str, str], owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": _metadata(CREDENTIALS_SECRET, namespace, owners),
        "data": data,
    }


def access_role(namespace: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(ACCESS_ROLE, namespace, owners),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [CONFIG_MAP],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }


def access_role_binding(namespace: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(ACCESS_ROLE, namespace, owners),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ACCESS_ROLE},
        "subjects": [
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": f"system:serviceaccounts:{namespace}",
            }
        ],
    }
