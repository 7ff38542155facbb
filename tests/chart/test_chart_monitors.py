"""The PodMonitor and ServiceMonitor select what the chart makes: injected pods' sb-admin port, and the
`metrics` port of the operator's Service. Their translation into the tests' Prometheus scrape configs
(support.scrape_configs, mirroring the pinned Prometheus Operator) keeps the same selection, and refuses a
field it does not translate."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from support.charts import EVERYTHING_ON, render
from support.scrape_configs import UnsupportedField, scrape_configs
from switchboard_operator.injection import ADMIN_PORT_NAME, INJECT_LABEL

pytestmark = pytest.mark.chart

KUBECONFIG = Path("/nonexistent/kubeconfig")
MONITORING = {"monitoring.podMonitor.enabled": "true", "monitoring.serviceMonitor.enabled": "true"}


def keep_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in config["relabel_configs"] if r.get("action") == "keep"]


def test_the_pod_monitor_selects_the_injected_pods_admin_port() -> None:
    rendered = render(values=MONITORING)
    monitor = rendered.one("PodMonitor")
    webhook = rendered.one("MutatingWebhookConfiguration")["webhooks"][0]
    assert monitor["spec"]["selector"] == webhook["objectSelector"] == {"matchLabels": {INJECT_LABEL: "true"}}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == ADMIN_PORT_NAME
    (config,) = scrape_configs([monitor], kubeconfig=KUBECONFIG)
    label, present = (
        "__meta_kubernetes_pod_label_switchboard_dev_inject",
        "__meta_kubernetes_pod_labelpresent_switchboard_dev_inject",
    )
    assert keep_rules(config) == [
        {"action": "keep", "source_labels": [label, present], "regex": "(true);true"},
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": "sb-admin",
        },
    ]
    assert "namespaces" not in config["kubernetes_sd_configs"][0]  # any namespace
    # The sidecar's own `endpoint` label (a ModelEndpoint) survives: the port-name target label is dropped.
    assert config["relabel_configs"][-1] == {"action": "labeldrop", "regex": "endpoint"}


def test_the_service_monitor_selects_the_operator_s_metrics_port() -> None:
    rendered = render(values=MONITORING)
    monitor, service = rendered.one("ServiceMonitor"), rendered.one("Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"][k] == v for k, v in selector.items())
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    (config,) = scrape_configs([monitor], kubeconfig=KUBECONFIG)
    ports = [r for r in keep_rules(config) if r["source_labels"] == ["__meta_kubernetes_endpoint_port_name"]]
    assert ports == [
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": "metrics"}
    ]
    assert config["kubernetes_sd_configs"][0]["namespaces"] == {"names": ["switchboard-system"]}
    assert config["honor_labels"] is True  # compile_problems{namespace} keeps the namespace it describes
    # The job label is the Service's name, as the SwitchboardOperatorDown alert expects.
    job = [r for r in config["relabel_configs"] if r.get("target_label") == "job"]
    assert job == [
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"}
    ]
    alerts = render(values={**MONITORING, "monitoring.prometheusRule.enabled": "true"}).one("PrometheusRule")
    down = next(
        r for g in alerts["spec"]["groups"] for r in g["rules"] if r.get("alert") == "SwitchboardOperatorDown"
    )
    assert re.search(rf'job="{service["metadata"]["name"]}"', down["expr"])


def test_a_namespaced_release_scrapes_only_its_namespaces() -> None:
    (pods, _) = scrape_configs(
        render(EVERYTHING_ON).of_kind("PodMonitor") + render(EVERYTHING_ON).of_kind("ServiceMonitor"),
        kubeconfig=KUBECONFIG,
    )
    assert pods["kubernetes_sd_configs"][0]["namespaces"] == {
        "names": ["switchboard-system", "team-a", "team-b"]
    }


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda m: m["spec"]["podMetricsEndpoints"][0].update(scheme="https"), id="endpoint-field"
        ),
        pytest.param(lambda m: m["spec"].update(jobLabel="app"), id="spec-field"),
        pytest.param(
            lambda m: m["spec"]["namespaceSelector"].update(matchLabels={"a": "b"}), id="ns-selector"
        ),
    ],
)
def test_a_field_the_translation_does_not_know_is_refused(change: Any) -> None:
    monitor = copy.deepcopy(render(values=MONITORING).one("PodMonitor"))
    change(monitor)
    with pytest.raises(UnsupportedField):
        scrape_configs([monitor], kubeconfig=KUBECONFIG)
