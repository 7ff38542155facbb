"""A real Prometheus on 127.0.0.1 (Debian's `prometheus` package) scraping sidecars on loopback every
second, each target labelled with the `namespace` and `pod` a cluster's relabelling would add; for the
quality loop's integration tests and `switchboard report`'s."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from support.processes import Process, free_port, start_process
from support.waiting import wait_until

NAMESPACE = "team"


@dataclass
class PrometheusProcess:
    process: Process
    url: str

    def stop(self) -> None:
        self.process.stop()

    def wait_scraping(self, targets: int) -> None:
        """Wait until every target has been scraped once (`up == 1`): counts from then on show in rate()."""

        def scraped() -> bool:
            query = urllib.parse.urlencode({"query": "count(up == 1)"})
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=5) as response:
                result = json.loads(response.read())["data"]["result"]
            return bool(result) and int(float(result[0]["value"][1])) == targets

        wait_until(scraped, timeout=30, interval=0.2, what=f"Prometheus scraping all {targets} targets")


def start_prometheus(targets: dict[str, str], directory: Path) -> PrometheusProcess:
    """Prometheus scraping `targets` (pod name -> base URL of its sidecar) every second."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus (Debian's package)"
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": f"sidecar-{pod}",
                "static_configs": [
                    {"targets": [url.removeprefix("http://")], "labels": {"namespace": NAMESPACE, "pod": pod}}
                ],
            }
            for pod, url in targets.items()
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        binary,
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    return PrometheusProcess(start_process(argv, ready_url=f"{url}/-/ready", timeout=60), url)
