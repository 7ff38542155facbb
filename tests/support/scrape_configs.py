"""The chart's PodMonitor and ServiceMonitor as the Prometheus scrape configs the Prometheus Operator makes of
them, so that a plain Prometheus (kubernetes_sd_configs) in the tests selects exactly what the monitors
select in a real cluster.

It mirrors `generatePodMonitorConfig` / `generateServiceMonitorConfig` of the pinned Prometheus Operator
(pkg/prometheus/promcfg.go of github.com/prometheus-operator/prometheus-operator v0.85.0, tests/chart/
tools.sh) for the fields the chart uses, and refuses any other field: a monitor that grows a field this
does not translate fails the tests instead of being scraped differently here than in a cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

POD_ENDPOINT_FIELDS = {"port", "path", "interval", "honorLabels", "relabelings"}
SERVICE_ENDPOINT_FIELDS = {"port", "path", "interval", "honorLabels", "relabelings"}
MONITOR_SPEC_FIELDS = {"selector", "namespaceSelector", "podMetricsEndpoints", "endpoints"}
RUNNING_ONLY = {
    "action": "drop",
    "source_labels": ["__meta_kubernetes_pod_phase"],
    "regex": "(Failed|Succeeded)",
}


class UnsupportedField(ValueError):
    """The monitor uses a field this translation does not know."""


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _check(fields: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise UnsupportedField(f"{where}: {sorted(unknown)} not translated (tests/support/scrape_configs.py)")


def _selector_rules(selector: dict[str, Any], meta: str) -> list[dict[str, Any]]:
    _check(selector, {"matchLabels", "matchExpressions"}, "selector")
    rules: list[dict[str, Any]] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        sources = [f"{meta}_label_{_sanitize(key)}", f"{meta}_labelpresent_{_sanitize(key)}"]
        rules.append({"action": "keep", "source_labels": sources, "regex": f"({value});true"})
    for expression in selector.get("matchExpressions") or []:
        key, operator = _sanitize(expression["key"]), expression["operator"]
        values = "|".join(expression.get("values") or [])
        both = [f"{meta}_label_{key}", f"{meta}_labelpresent_{key}"]
        present = [f"{meta}_labelpresent_{key}"]
        rules.append(
            {
                "In": {"action": "keep", "source_labels": both, "regex": f"({values});true"},
                "NotIn": {"action": "drop", "source_labels": both, "regex": f"({values});true"},
                "Exists": {"action": "keep", "source_labels": present, "regex": "true"},
                "DoesNotExist": {"action": "drop", "source_labels": present, "regex": "true"},
            }[operator]
        )
    return rules


def _sd_config(monitor: dict[str, Any], role: str, kubeconfig: Path) -> dict[str, Any]:
    selector = monitor["spec"].get("namespaceSelector") or {}
    _check(selector, {"any", "matchNames"}, "namespaceSelector")
    config: dict[str, Any] = {"role": role, "kubeconfig_file": str(kubeconfig)}
    if not selector.get("any"):
        config["namespaces"] = {"names": selector.get("matchNames") or [monitor["metadata"]["namespace"]]}
    return config


def _user_relabelings(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    keys = {
        "sourceLabels": "source_labels",
        "targetLabel": "target_label",
        "action": "action",
        "regex": "regex",
    }
    keys |= {"separator": "separator", "replacement": "replacement", "modulus": "modulus"}
    translated = []
    for relabeling in endpoint.get("relabelings") or []:
        _check(relabeling, set(keys), "relabelings")
        rule = {keys[k]: v for k, v in relabeling.items()}
        if "action" in rule:
            rule["action"] = rule["action"].lower()
        translated.append(rule)
    return translated


def _scrape_settings(endpoint: dict[str, Any], job: str) -> dict[str, Any]:
    config: dict[str, Any] = {"job_name": job, "honor_labels": bool(endpoint.get("honorLabels", False))}
    if endpoint.get("interval"):
        config["scrape_interval"] = endpoint["interval"]
    if endpoint.get("path"):
        config["metrics_path"] = endpoint["path"]
    return config


def pod_monitor_configs(monitor: dict[str, Any], *, kubeconfig: Path) -> list[dict[str, Any]]:
    _check(monitor["spec"], MONITOR_SPEC_FIELDS, "PodMonitor spec")
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    configs = []
    for index, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
        _check(endpoint, POD_ENDPOINT_FIELDS, "podMetricsEndpoints")
        port = endpoint["port"]
        config = _scrape_settings(endpoint, f"podMonitor/{namespace}/{name}/{index}")
        config["kubernetes_sd_configs"] = [_sd_config(monitor, "pod", kubeconfig)]
        config["relabel_configs"] = [
            {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
            RUNNING_ONLY,
            *_selector_rules(monitor["spec"]["selector"], "__meta_kubernetes_pod"),
            {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"target_label": "job", "replacement": f"{namespace}/{name}"},
            {"target_label": "endpoint", "replacement": port},
            *_user_relabelings(endpoint),
        ]
        configs.append(config)
    return configs


def _address_target(kind: str, label: str) -> dict[str, Any]:
    return {
        "source_labels": [
            "__meta_kubernetes_endpoint_address_target_kind",
            "__meta_kubernetes_endpoint_address_target_name",
        ],
        "separator": ";",
        "regex": f"{kind};(.*)",
        "replacement": "${1}",
        "target_label": label,
    }


def service_monitor_configs(monitor: dict[str, Any], *, kubeconfig: Path) -> list[dict[str, Any]]:
    _check(monitor["spec"], MONITOR_SPEC_FIELDS, "ServiceMonitor spec")
    namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    configs = []
    for index, endpoint in enumerate(monitor["spec"]["endpoints"]):
        _check(endpoint, SERVICE_ENDPOINT_FIELDS, "endpoints")
        port = endpoint["port"]
        config = _scrape_settings(endpoint, f"serviceMonitor/{namespace}/{name}/{index}")
        config["kubernetes_sd_configs"] = [_sd_config(monitor, "endpoints", kubeconfig)]
        config["relabel_configs"] = [
            {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
            *_selector_rules(monitor["spec"]["selector"], "__meta_kubernetes_service"),
            {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": port},
            _address_target("Node", "node"),
            _address_target("Pod", "pod"),
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            RUNNING_ONLY,
            {
                "source_labels": ["__meta_kubernetes_service_name"],
                "target_label": "job",
                "replacement": "${1}",
            },
            {"target_label": "endpoint", "replacement": port},
            *_user_relabelings(endpoint),
        ]
        configs.append(config)
    return configs


def scrape_configs(documents: list[dict[str, Any]], *, kubeconfig: Path) -> list[dict[str, Any]]:
    """Every PodMonitor's and ServiceMonitor's scrape configs, in document order."""
    configs: list[dict[str, Any]] = []
    for document in documents:
        if document["kind"] == "PodMonitor":
            configs += pod_monitor_configs(document, kubeconfig=kubeconfig)
        elif document["kind"] == "ServiceMonitor":
            configs += service_monitor_configs(document, kubeconfig=kubeconfig)
    return configs
