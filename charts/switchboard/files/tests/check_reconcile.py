"""`helm test`: is the operator reconciling? (Python standard library only: it runs in the chart's image.)

Waits until the test ModelRoute is Ready for its current generation and names the config version that
ConfigMap switchboard-config holds, then reads the operator's metrics through the release's Service (its
address from the Service's environment variables, so no cluster DNS is needed).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any

ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def api_get(path: str) -> Any:
    """GET on the API server with the pod's service account; None for 404."""
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ["KUBERNETES_SERVICE_PORT"]
    with open(f"{ACCOUNT}/token") as token_file:
        token = token_file.read().strip()
    context = ssl.create_default_context(cafile=f"{ACCOUNT}/ca.crt")
    request = urllib.request.Request(
        f"https://{host}:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def route_state(namespace: str, route: str) -> str:
    """ "" once the route is Ready and compiled into the ConfigMap, else what is still missing."""
    found = api_get(f"/apis/switchboard.dev/v1alpha1/namespaces/{namespace}/modelroutes/{route}")
    if found is None:
        return "the test route does not exist"
    status = found.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if not ready or ready[0].get("status") != "True":
        return f"route not Ready yet: {ready}"
    if ready[0].get("observedGeneration") != found["metadata"].get("generation"):
        return "route status is for an older generation"
    config_map = api_get(f"/api/v1/namespaces/{namespace}/configmaps/switchboard-config")
    if config_map is None:
        return "ConfigMap switchboard-config does not exist yet"
    version = (config_map["metadata"].get("annotations") or {}).get("switchboard.dev/config-version")
    if status.get("configVersion") != version:
        return f"route names config {status.get('configVersion')}, the ConfigMap holds {version}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--route", required=True)
    parser.add_argument("--metrics-host-env", required=True)
    parser.add_argument("--metrics-port-env", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    deadline, state = time.monotonic() + args.timeout, "not checked"
    while time.monotonic() < deadline:
        try:
            state = route_state(args.namespace, args.route)
        except (OSError, ValueError) as error:
            state = f"API server: {error}"
        if not state:
            break
        time.sleep(1)
    if state:
        print(f"FAIL: the operator did not reconcile within {args.timeout:.0f}s: {state}")
        return 1
    print(f"ok: ModelRoute {args.route} is Ready and compiled into ConfigMap switchboard-config")
    url = f"http://{os.environ[args.metrics_host_env]}:{os.environ[args.metrics_port_env]}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        metrics = response.read().decode()
    if "switchboard_operator_reconciles_total" not in metrics:
        print(f"FAIL: {url} has no switchboard_operator_reconciles_total")
        return 1
    print(f"ok: the operator's metrics answer at {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
