"""A real Prometheus on 127.0.0.1 for the observability tests, configured from what the chart put in the
cluster: the scrape configs the Prometheus Operator would make of the stored PodMonitor and ServiceMonitor
(kubernetes_sd_configs against the test cluster, support.scrape_configs), and the stored PrometheusRule's
groups as its rule file. Scrapes and rule evaluations every 2 s by default, so a test sees rates within
seconds (the quality loop's test scrapes every 5 s).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.charts import tool_paths
from support.processes import Process, free_port, start_process
from support.scrape_configs import scrape_configs
from support.stack import http

INTERVAL = "2s"


@dataclass
class Prometheus:
    process: Process
    url: str

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/PATH; the `data` of a successful answer (a failed one fails the test)."""
        query = urllib.parse.urlencode(params)
        reply = http("GET", f"{self.url}/api/v1/{path}?{query}", timeout=30)
        body = json.loads(reply.body)
        assert reply.status == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant query; its vector (a scalar comes back as one sample)."""
        data = self.api("query", query=expression)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.api("targets", state="active")["activeTargets"]
        return targets

    def stop(self) -> None:
        self.process.stop()


def configuration(
    monitors: list[dict[str, Any]], *, kubeconfig: Path, rules: Path | None, interval: str = INTERVAL
) -> dict[str, Any]:
    configs = scrape_configs(monitors, kubeconfig=kubeconfig)
    for config in configs:
        config["scrape_interval"] = interval  # the monitors' own intervals are what a cluster would use
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)] if rules is not None else [],
        "scrape_configs": configs,
    }


def start_prometheus(
    monitors: list[dict[str, Any]],
    rule: dict[str, Any] | None,
    *,
    kubeconfig: Path,
    directory: Path,
    interval: str = INTERVAL,
) -> Prometheus:
    """Prometheus for the stored monitors and rule (None: no rules), scraping every `interval`, with its
    data in `directory`."""
    rules = None
    if rule is not None:
        rules = directory / "rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    config = directory / "prometheus.yaml"
    settings = configuration(monitors, kubeconfig=kubeconfig, rules=rules, interval=interval)
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    argv = [
        str(tool_paths()["PROMETHEUS"]),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    return Prometheus(start_process(argv, ready_url=f"{url}/-/ready", timeout=60), url)
