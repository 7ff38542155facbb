"""The Kubernetes API from a `helm test` pod, with the pod's service account and the standard library only
(the checks run in the chart's image, which has no client library of its own for this)."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from typing import Any

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
SWITCHBOARD = "/apis/switchboard.dev/v1alpha1"


def call(method: str, path: str, body: Any = None) -> Any:
    """One API request; the decoded answer, or None for 404."""
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    with open(f"{ACCOUNT}/token") as token_file:
        token = token_file.read().strip()
    request = urllib.request.Request(
        f"https://{host}:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def test_resources(namespace: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    """The endpoint (never called: the discard port) and the route that `helm test` compiles."""
    metadata = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/component": "helm-test"}}
    endpoint = {
        "apiVersion": "switchboard.dev/v1alpha1",
        "kind": "ModelEndpoint",
        "metadata": metadata,
        "spec": {"provider": "openai", "url": "http://127.0.0.1:9/v1", "model": "helm-test"},
    }
    route = {
        "apiVersion": "switchboard.dev/v1alpha1",
        "kind": "ModelRoute",
        "metadata": metadata,
        "spec": {"targets": [{"endpoint": name}]},
    }
    base = f"{SWITCHBOARD}/namespaces/{namespace}"
    return [(f"{base}/modelendpoints", endpoint), (f"{base}/modelroutes", route)]


def delete_test_resources(namespace: str, name: str) -> None:
    for collection, _ in test_resources(namespace, name):
        call("DELETE", f"{collection}/{name}")
