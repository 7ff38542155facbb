"""The chart's observability against a real Prometheus: the release installs its PodMonitor, ServiceMonitor,
PrometheusRule and dashboard (the Prometheus Operator's CRDs from its pinned Go module are applied first,
so the API server validates them); a Prometheus on 127.0.0.1 scrapes what the stored monitors select
(kubernetes_sd_configs, as the Prometheus Operator would configure it) and evaluates the stored rules.

After traffic from the demo app, with a failing model (fallbacks, an open circuit), a failing pool
(degraded answers) and a spent budget (shed requests), every recording rule and every dashboard panel query
(Grafana's variables substituted) answers without error and with data, as do the dashboard's variables.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chart_demo import calls, deploy_demo, in_app
from chart_release import Release, apply_monitoring_crds
from kubectl_cli import Kubectl
from node_pods import admin, pod_ip
from prometheus_server import Prometheus, start_prometheus

from support.charts import CHART, tool_paths
from support.stack import read_metric
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300, func_only=True)]

RELEASE = "sb-watch-switchboard"
MONITORING = {
    "monitoring.podMonitor.enabled": "true",
    "monitoring.serviceMonitor.enabled": "true",
    "monitoring.prometheusRule.enabled": "true",
    "monitoring.dashboard.enabled": "true",
}
RATE_INTERVAL = "1m"  # what Grafana's $__rate_interval would be at a 2 s scrape interval, with room
CHAT_BUDGET = {"usd": 50, "window": "1h", "action": "cheapest"}


@dataclass
class Watched:
    release: Release
    demo_namespace: str
    demo_pod: str
    prometheus: Prometheus


@pytest.fixture(scope="module")
def watched(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    apply_monitoring_crds(kubectl, tool_paths()["PROMETHEUS_OPERATOR_CRDS"])
    release = Release(RELEASE, f"sb-watch-{uuid.uuid4().hex[:6]}", kubectl)
    demo = f"sb-watch-demo-{uuid.uuid4().hex[:6]}"
    prometheus = None
    try:
        release.install(MONITORING)
        pod = deploy_demo(kubectl, demo)
        stored = [
            *kubectl.get_json("podmonitors", "-n", release.namespace)["items"],
            *kubectl.get_json("servicemonitors", "-n", release.namespace)["items"],
        ]
        (rule,) = kubectl.get_json("prometheusrules", "-n", release.namespace)["items"]
        directory = tmp_path_factory.mktemp("prometheus")
        prometheus = start_prometheus(stored, rule, kubeconfig=kubectl.kubeconfig, directory=directory)
        yield Watched(release, demo, pod, prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        release.uninstall()
        for namespace in (demo, release.namespace):
            kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def _targets(prometheus: Prometheus, job_prefix: str) -> dict[str, dict[str, Any]]:
    found = [t for t in prometheus.active_targets() if t["scrapePool"].startswith(job_prefix)]
    return {t["labels"]["pod"]: t for t in found}


def injected_pods(kubectl: Kubectl) -> dict[str, dict[str, Any]]:
    """Running pods that got the sidecar (an sb-admin port) and are not being deleted, by name."""
    listed = kubectl.get_json("pods", "-A", "-l", "switchboard.dev/inject=true")["items"]
    return {
        p["metadata"]["name"]: p
        for p in listed
        if p["status"].get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and any(c.get("name") == "switchboard-proxy" for c in p["spec"].get("initContainers") or [])
    }


def test_prometheus_scrapes_exactly_the_injected_pods_and_the_operator_replicas(
    kubectl: Kubectl, watched: Watched
) -> None:
    release = watched.release
    operators = {p["metadata"]["name"] for p in release.wait_operators_ready(2)}

    def sidecars_scraped() -> dict[str, dict[str, Any]]:
        found, expected = _targets(watched.prometheus, "podMonitor/"), injected_pods(kubectl)
        # Every injected pod is a target and up; a target for a pod that is going away may linger.
        ok = watched.demo_pod in expected and set(expected) <= set(found)
        return found if ok and all(found[name]["health"] == "up" for name in expected) else {}

    sidecars = wait_until(sidecars_scraped, timeout=60, what="every injected pod scraped and up")
    # And nothing else: every target that still exists is a labelled pod with the sidecar.
    everything = {p["metadata"]["name"]: p for p in kubectl.get_json("pods", "-A")["items"]}
    for name in set(sidecars) & set(everything):
        pod = everything[name]
        assert pod["metadata"]["labels"].get("switchboard.dev/inject") == "true", name
        assert "switchboard-proxy" in {c["name"] for c in pod["spec"].get("initContainers") or []}, name
    assert all(t["scrapeUrl"].endswith(":8788/metrics") for t in sidecars.values())
    demo = sidecars[watched.demo_pod]["labels"]
    assert demo["namespace"] == watched.demo_namespace and "endpoint" not in demo  # the port name was dropped
    operator_targets = wait_until(
        lambda: (found := _targets(watched.prometheus, "serviceMonitor/")) and set(found) == operators
        and all(t["health"] == "up" for t in found.values()) and found,
        timeout=60,
        what="both operator replicas scraped and up",
    )  # fmt: skip
    assert {t["labels"]["job"] for t in operator_targets.values()} == {RELEASE}


def _sidecar_metric(kubectl: Kubectl, watched: Watched, name: str, **labels: str) -> float:
    ip = pod_ip(kubectl, watched.demo_namespace, watched.demo_pod)
    return read_metric(admin(ip, "/metrics").body.decode(), name, **labels)


def test_traffic_with_a_failing_model_a_failing_pool_and_a_spent_budget(
    kubectl: Kubectl, watched: Watched
) -> None:
    namespace, pod = watched.demo_namespace, watched.demo_pod
    wait_until(lambda: len(calls(kubectl, namespace, pod)) >= 6, timeout=60, what="the demo app's calls")
    # capable (chat's only target) fails: chat falls over to cheap, capable's circuit opens.
    in_app(kubectl, namespace, pod, "fault", "llama-3.3-70b-instruct", "error-503")
    circuit = "switchboard_circuit_open"
    wait_until(lambda: _sidecar_metric(kubectl, watched, circuit, endpoint="capable"), timeout=60)
    # Every model of tab-completion fails: its degraded answer (an empty suggestion).
    for model in ("qwen2.5-coder-1.5b", "qwen2.5-coder-3b", "starcoder2-3b"):
        in_app(kubectl, namespace, pod, "fault", model, "error-503")
    wait_until(lambda: _sidecar_metric(kubectl, watched, "switchboard_degraded_total"), timeout=60)
    for model in ("llama-3.3-70b-instruct", "qwen2.5-coder-1.5b", "qwen2.5-coder-3b", "starcoder2-3b"):
        in_app(kubectl, namespace, pod, "fault", model, "none")
    # A spent budget with action reject: requests are shed (429).
    spent = {"usd": 0.000001, "window": "1h", "action": "reject"}
    kubectl.patch("modelroute", "chat", {"spec": {"budget": spent}}, namespace=namespace)
    shed = "switchboard_shed_total"
    wait_until(lambda: _sidecar_metric(kubectl, watched, shed, reason="budget"), timeout=60)
    kubectl.patch("modelroute", "chat", {"spec": {"budget": CHAT_BUDGET}}, namespace=namespace)
    assert _sidecar_metric(kubectl, watched, "switchboard_fallbacks_total", to_endpoint="cheap") > 0


def _has_data(prometheus: Prometheus, expression: str) -> list[dict[str, Any]]:
    return prometheus.query(expression)


def test_every_recording_rule_evaluates_with_data(watched: Watched) -> None:
    groups = watched.prometheus.api("rules", type="record")["groups"]
    records = [r["name"] for g in groups for r in g["rules"]]
    assert len(records) == 7, records
    for record in records:
        wait_until(lambda r=record: _has_data(watched.prometheus, r), timeout=60, what=f"{record} with data")
    every = [r for g in watched.prometheus.api("rules")["groups"] for r in g["rules"]]
    assert not [r for r in every if r["health"] != "ok"], [r for r in every if r["health"] != "ok"]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "files" / "dashboard.json").read_text())
    return loaded


def substitute(expression: str, namespace: str) -> str:
    """Grafana's variables as Grafana would fill them: this namespace, every route and variant."""
    values = {"$__rate_interval": RATE_INTERVAL, "$namespace": namespace, "$route": ".*", "$variant": ".*"}
    for variable, value in values.items():
        expression = expression.replace(variable, value)
    assert "$" not in expression, expression
    return expression


def test_every_dashboard_panel_query_answers_with_data(watched: Watched) -> None:
    queries = [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p.get("targets") or []]
    assert len(queries) >= 25
    empty = []
    for title, expression in queries:
        query = substitute(expression, watched.demo_namespace)
        try:
            wait_until(lambda q=query: _has_data(watched.prometheus, q), timeout=30, what=title)
        except AssertionError as exc:
            empty.append(f"{title}: {query}: {exc}")
    assert not empty, "\n".join(empty)


def test_the_dashboard_variables_find_the_namespace_routes_and_variants(watched: Watched) -> None:
    found = {}
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        selector, label = substitute(match[1], watched.demo_namespace), match[2]
        found[variable["name"]] = watched.prometheus.api(f"label/{label}/values", **{"match[]": selector})
    assert watched.demo_namespace in found["namespace"]
    assert {"chat", "tab-completion"} <= set(found["route"])
    assert {"default", "control", "candidate"} <= set(found["variant"])
