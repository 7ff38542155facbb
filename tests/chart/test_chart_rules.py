"""The PrometheusRule and the Grafana dashboard: `promtool check rules` and `promtool test rules` (Debian's
prometheus package) on the rendered rules, every rule covered by a test and every alert with a runbook, and
only metric names that the sidecar and the operator declare today."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.charts import CHART, promtool, render
from support.processes import REPO_ROOT

pytestmark = pytest.mark.chart

RULES_TEST = Path(__file__).with_name("rules_test.yaml")
METRIC_MODULES = [
    REPO_ROOT / "proxy" / "switchboard_proxy" / "accounting" / "metrics.py",
    REPO_ROOT / "operator" / "switchboard_operator" / "metrics.py",
]
SERIES_SUFFIXES = ("_bucket", "_sum", "_count")
NOT_OURS = {"up"}  # Prometheus' own


def rule_groups(**values: str) -> list[dict[str, Any]]:
    rendered = render(values={"monitoring.prometheusRule.enabled": "true", **values})
    groups: list[dict[str, Any]] = rendered.one("PrometheusRule")["spec"]["groups"]
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def declared_metrics() -> set[str]:
    """Every metric name declared in the two metrics modules."""
    names: set[str] = set()
    for module in METRIC_MODULES:
        names |= set(re.findall(r'"(switchboard_[a-z_]+)"', module.read_text()))
    return names


def used_metrics(expression: str) -> set[str]:
    names = set(re.findall(r"(?<![:\w])(switchboard_[a-z_]+)", expression))
    return {next((n.removesuffix(s) for s in SERIES_SUFFIXES if n.endswith(s)), n) for n in names}


def promtool_run(*args: str, cwd: Path) -> str:
    result = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_rules_pass_promtool_check_and_their_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    assert "SUCCESS" in promtool_run("check", "rules", "rules.yaml", cwd=tmp_path)
    assert "SUCCESS" in promtool_run("test", "rules", RULES_TEST.name, cwd=tmp_path)


def test_every_rule_has_a_unit_test() -> None:
    tested = RULES_TEST.read_text()
    missing = [
        r.get("record") or r["alert"] for r in rules() if (r.get("record") or r["alert"]) not in tested
    ]
    assert not missing, f"rules without a promtool test in {RULES_TEST.name}: {missing}"


def test_every_alert_says_what_happened_and_what_to_do() -> None:
    for rule in rules():
        if "alert" in rule:
            annotations = rule["annotations"]
            assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
            assert annotations["runbook"].startswith("1. "), rule["alert"]
            assert rule["labels"]["severity"] in {"warning", "critical"}


def test_runbook_urls_when_a_base_is_given() -> None:
    groups = rule_groups(**{"monitoring.prometheusRule.runbookBaseUrl": "https://runbooks.example/sb"})
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert all(
        r["annotations"]["runbook_url"] == f"https://runbooks.example/sb#{r['alert'].lower()}" for r in alerts
    )


def test_the_issue_s_recording_rules_and_alerts_are_all_there() -> None:
    names = {r.get("record") or r["alert"] for r in rules()}
    assert {
        "switchboard:requests:rate5m",
        "switchboard:errors:ratio_rate5m",
        "switchboard:fallbacks:ratio_rate5m",
        "switchboard:degraded:ratio_rate5m",
        "switchboard:request_duration_seconds:p95_rate5m",
        "switchboard:time_to_first_token_seconds:p95_rate5m",
        "switchboard:cost_usd_per_hour:rate5m",
        "SwitchboardCircuitOpen",
        "SwitchboardFallbackRateHigh",
        "SwitchboardDegradedAnswers",
        "SwitchboardConfigReloadFailing",
        "SwitchboardConfigVersionSkew",
        "SwitchboardSpendOverBudget",
        "SwitchboardOperatorNotReconciling",
    } <= names


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "files" / "dashboard.json").read_text())
    return loaded


def panel_queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p.get("targets") or []]


def test_rules_and_dashboard_use_only_metrics_that_are_exported_today() -> None:
    declared = declared_metrics()
    expressions = [r["expr"] for r in rules()] + [expr for _, expr in panel_queries()]
    expressions += [v["query"]["query"] for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    unknown = {name for e in expressions for name in used_metrics(e)} - declared - NOT_OURS
    assert not unknown, f"metrics nobody exports: {sorted(unknown)}"


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "route", "variant"}
    for panel in panels:
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in (
        "route",
        "variant",
        "endpoint",
        "latency",
        "first token",
        "fallback",
        "circuit",
        "spend",
        "config version",
    ):
        assert topic in titles, topic


def test_the_dashboard_configmap_carries_the_file_for_grafana_s_sidecar() -> None:
    config_map = render(values={"monitoring.dashboard.enabled": "true"}).one(
        "ConfigMap", "switchboard-dashboard"
    )
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["switchboard.json"]) == dashboard()
