"""A Helm release of charts/switchboard on the test cluster, and what the chart tests read from it.

- `Release`: install / upgrade / test / uninstall with the pinned helm and the cluster's kubeconfig, each
  timed; `adopt_crds` first hands CRDs applied by kubectl (or kept by an earlier release) to this release,
  the documented path for a cluster that has them already;
- the operator's pods, the leader among them (from the peering object: the live peer with the highest
  priority), its metrics from the host (pod IP), and its process on this machine (to SIGKILL it);
- the cluster-scoped objects a release made, and an extra tag of the Switchboard image in the node's
  containerd (a "new image" for upgrades).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from kubectl_cli import Kubectl
from node_pods import is_ready

from support.charts import CHART, helm, set_args
from support.processes import REPO_ROOT
from support.stack import http
from support.waiting import wait_until

CONTAINERD = os.environ.get("SWITCHBOARD_CONTAINERD_SOCK", "/run/switchboard-node/containerd.sock")
CLUSTER_SCOPED = "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,clusterkopfpeerings"
OPERATOR_PODS = "app.kubernetes.io/component=operator"
NODE_VALUES = {"image.pullPolicy": "Never"}  # images are loaded into the node, never pulled
LIVE: list[Release] = []  # installed and not yet uninstalled: a failing test's report shows their logs
LOG_TAIL_LINES = 60


@dataclass
class Release:
    """One release of the chart (its fullname is its name when the name contains "switchboard")."""

    name: str
    namespace: str
    kubectl: Kubectl
    timings: dict[str, float] = field(default_factory=dict)

    def helm(self, *args: str, timeout: float = 300) -> str:
        return helm(*args, "--namespace", self.namespace, kubeconfig=self.kubectl.kubeconfig, timeout=timeout)

    def _timed(self, what: str, *args: str, timeout: float = 300) -> str:
        started = time.monotonic()
        output = self.helm(*args, timeout=timeout)
        self.timings[what] = time.monotonic() - started
        return output

    def install(self, values: dict[str, str], *, chart: Path = CHART, values_file: Path | None = None) -> str:
        adopt_crds(self.kubectl, self.name, self.namespace)
        LIVE.append(self)
        files = [f"--values={values_file}"] if values_file else []
        arguments = ["install", self.name, str(chart), "--create-namespace", "--wait", "--timeout=240s"]
        return self._timed("install", *arguments, *files, *set_args({**NODE_VALUES, **values}))

    def upgrade(self, values: dict[str, str], *, chart: Path = CHART, wait: bool = True) -> str:
        arguments = ["upgrade", self.name, str(chart), "--reuse-values", "--timeout=240s"]
        return self._timed("upgrade", *arguments, *(["--wait"] if wait else []), *set_args(values))

    def test(self) -> str:
        return self._timed("test", "test", self.name, "--logs", "--timeout=240s")

    def uninstall(self) -> str:
        """`helm uninstall --wait`; its output says which objects the resource policy kept."""
        started = time.monotonic()
        arguments = ["uninstall", self.name, "--wait", "--timeout=120s", "--ignore-not-found"]
        output = helm(
            *arguments, "--namespace", self.namespace, kubeconfig=self.kubectl.kubeconfig, check=False
        )
        assert "uninstalled" in output or "not found" in output, output
        self.timings["uninstall"] = time.monotonic() - started
        if self in LIVE:
            LIVE.remove(self)
        return output

    def operator_logs(self) -> str:
        """The tail of every operator pod's log (for a failing test's report)."""
        parts = []
        for pod in self.operator_pods():
            name = pod["metadata"]["name"]
            logs = self.kubectl("logs", name, "-n", self.namespace, f"--tail={LOG_TAIL_LINES}").stdout
            parts.append(f"--- {name} ---\n{logs}")
        return "\n".join(parts)

    def operator_pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = self.kubectl.get_json("pods", "-n", self.namespace, "-l", OPERATOR_PODS)[
            "items"
        ]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def wait_operators_ready(self, count: int, *, timeout: float = 120) -> list[dict[str, Any]]:
        return wait_until(
            lambda: (
                (pods := self.operator_pods()) and len(pods) == count and all(map(is_ready, pods)) and pods
            ),
            timeout=timeout,
            interval=0.5,
            what=f"{count} ready operator pods in {self.namespace}",
        )

    def peering_status(self, scope: str | None = None) -> dict[str, Any]:
        kind = ["kopfpeering", self.name, "-n", scope] if scope else ["clusterkopfpeering", self.name]
        found = self.kubectl("get", *kind, "-o", "json", check=True).stdout
        return dict(json.loads(found).get("status") or {})

    def leader(self, scope: str | None = None) -> str:
        """The live peer with the highest priority (the one Kopf lets reconcile)."""
        now = datetime.now(UTC)
        alive = {
            peer: info
            for peer, info in self.peering_status(scope).items()
            if datetime.fromisoformat(info["lastseen"]) + timedelta(seconds=info["lifetime"]) > now
        }
        return max(alive, key=lambda peer: int(alive[peer]["priority"]))

    def operator_metrics(self, pod: dict[str, Any]) -> str:
        """GET /metrics of one operator pod, from the host (pods are routable from the node)."""
        return http("GET", f"http://{pod['status']['podIP']}:8081/metrics", timeout=5).body.decode()

    def cluster_scoped_objects(self) -> list[str]:
        """Cluster-scoped objects labelled as this release's (CRDs aside, which are kept on purpose)."""
        label = f"app.kubernetes.io/instance={self.name}"
        found = self.kubectl("get", CLUSTER_SCOPED, "-l", label, "-o", "name", check=True).stdout
        return found.split()


def adopt_crds(kubectl: Kubectl, release: str, namespace: str) -> None:
    """Hand the Switchboard CRDs (applied by kubectl, or kept by another release) to this release: the
    README's adoption step. Without it `helm install` refuses objects it does not own."""
    names = [yaml.safe_load(p.read_text())["metadata"]["name"] for p in (REPO_ROOT / "crds").glob("*.yaml")]
    present = kubectl("get", "crd", *names, "-o", "name", "--ignore-not-found", check=True).stdout.split()
    if not present:
        return
    kubectl("label", "--overwrite", *present, "app.kubernetes.io/managed-by=Helm", check=True)
    kubectl(
        "annotate", "--overwrite", *present,
        f"meta.helm.sh/release-name={release}", f"meta.helm.sh/release-namespace={namespace}",
        check=True,
    )  # fmt: skip


def operator_process(pod_name: str) -> int:
    """The pid, on this machine, of the operator process of pod `pod_name` (the node runs here)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"switchboard-operator" in cmdline and f"POD_NAME={pod_name}".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no switchboard-operator process of pod {pod_name} on this machine")


def tag_image(source: str, target: str) -> None:
    """Another name for an image in the node's containerd (what a registry push of a new tag gives)."""
    subprocess.run(
        ["ctr", "--address", CONTAINERD, "--namespace", "k8s.io", "images", "tag", "--force", source, target],
        check=True,
        capture_output=True,
        timeout=60,
    )


def apply_monitoring_crds(kubectl: Kubectl, crd_dir: Path) -> None:
    """The Prometheus Operator's PodMonitor, ServiceMonitor and PrometheusRule CRDs (server-side apply:
    they are too large for kubectl's last-applied annotation)."""
    for kind in ("podmonitors", "servicemonitors", "prometheusrules"):
        path = crd_dir / f"monitoring.coreos.com_{kind}.yaml"
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path), check=True, timeout=120)
    kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        *(f"crd/{k}.monitoring.coreos.com" for k in ("podmonitors", "servicemonitors", "prometheusrules")),
        check=True,
    )  # fmt: skip
