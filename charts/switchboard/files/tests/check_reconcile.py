"""`helm test`, first pod: is the operator reconciling?

Creates a test ModelEndpoint and ModelRoute in the release namespace (replacing what a failed run left),
waits until the route is Ready for its current generation and names the config version that ConfigMap
switchboard-config holds, then reads the operator's metrics through the release's Service (its address from
the Service's environment variables, so no cluster DNS is needed). The second pod uses the route and then
deletes both.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request

from kube_api import SWITCHBOARD, call, delete_test_resources, test_resources


def route_state(namespace: str, name: str) -> str:
    """ "" once the route is Ready and compiled into the ConfigMap, else what is still missing."""
    found = call("GET", f"{SWITCHBOARD}/namespaces/{namespace}/modelroutes/{name}")
    if found is None:
        return "the test route does not exist"
    status = found.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if not ready or ready[0].get("status") != "True":
        return f"route not Ready yet: {ready}"
    if ready[0].get("observedGeneration") != found["metadata"].get("generation"):
        return "route status is for an older generation"
    config_map = call("GET", f"/api/v1/namespaces/{namespace}/configmaps/switchboard-config")
    if config_map is None:
        return "ConfigMap switchboard-config does not exist yet"
    version = (config_map["metadata"].get("annotations") or {}).get("switchboard.dev/config-version")
    if status.get("configVersion") != version:
        return f"route names config {status.get('configVersion')}, the ConfigMap holds {version}"
    return ""


def wait_for_reconcile(namespace: str, name: str, timeout: float) -> str:
    deadline, state = time.monotonic() + timeout, "not checked"
    while time.monotonic() < deadline:
        try:
            state = route_state(namespace, name)
        except (OSError, ValueError) as error:
            state = f"API server: {error}"
        if not state:
            return ""
        time.sleep(1)
    return state


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--metrics-host-env", required=True)
    parser.add_argument("--metrics-port-env", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    delete_test_resources(args.namespace, args.name)
    for collection, body in test_resources(args.namespace, args.name):
        call("POST", collection, body)
    state = wait_for_reconcile(args.namespace, args.name, args.timeout)
    if state:
        print(f"FAIL: the operator did not reconcile within {args.timeout:.0f}s: {state}")
        return 1
    print(f"ok: ModelRoute {args.name} is Ready and compiled into ConfigMap switchboard-config")
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
