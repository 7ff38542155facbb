"""The README's "Try it on kind", run command by command on the test cluster: everything but what needs
Docker (creating the kind cluster, building and loading the image: `make image` did the same for the node)
or the internet (kube-prometheus-stack; the Prometheus Operator's CRDs, which it would bring, are applied
from the pinned module instead). The cluster is first made to look like a fresh one: no release or
namespace of that name, and CRDs left by other tests handed to the release the README installs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from chart_release import Release, adopt_crds, apply_monitoring_crds
from kubectl_cli import Kubectl

from support.charts import helm_binary, tool_paths
from support.processes import REPO_ROOT
from support.readme_commands import Command, commands
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420, func_only=True)]

RELEASE, NAMESPACE, DEMO = "switchboard", "switchboard-system", "demo"  # as the README names them
COMMAND_TIMEOUT_SECONDS = 240


def _gone(kubectl: Kubectl, namespace: str) -> bool:
    return kubectl.find("namespace", namespace, namespace="default") is None


@pytest.fixture(scope="module")
def fresh_cluster(kubectl: Kubectl) -> Iterator[Kubectl]:
    release = Release(RELEASE, NAMESPACE, kubectl)

    def clean() -> None:
        release.uninstall()
        for namespace in (DEMO, NAMESPACE):
            kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
        for namespace in (DEMO, NAMESPACE):
            wait_until(lambda n=namespace: _gone(kubectl, n), timeout=120, what=f"namespace {namespace} gone")

    clean()
    adopt_crds(kubectl, RELEASE, NAMESPACE)
    try:
        yield kubectl
    finally:
        clean()


def run(command: Command, kubectl: Kubectl) -> str:
    """One README command in bash from the repository root, with the test cluster's kubeconfig and helm."""
    env = {
        **os.environ,
        "KUBECONFIG": str(kubectl.kubeconfig),
        "PATH": f"{Path(helm_binary()).parent}:{os.environ['PATH']}",
        "HELM_CACHE_HOME": "/tmp/switchboard-helm-cache",
    }
    result = subprocess.run(
        ["bash", "-c", command.text],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    failure = f"README command failed ({result.returncode}): {command.text}\n{result.stdout}{result.stderr}"
    assert result.returncode == 0, failure
    return result.stdout


def test_every_readme_command_that_needs_no_docker_runs(fresh_cluster: Kubectl) -> None:
    kubectl = fresh_cluster
    chats: list[dict[str, str]] = []
    ran = []
    for command in commands("Try it on kind"):
        if command.skipped_because:
            continue
        if "monitoring.podMonitor.enabled=true" in command.text:
            # What `helm install ... kube-prometheus-stack` (the internet) would have put in the cluster.
            apply_monitoring_crds(kubectl, tool_paths()["PROMETHEUS_OPERATOR_CRDS"])
        output = run(command, kubectl)
        ran.append(command.text)
        if command.text.endswith("app.py call chat"):
            chats.append(json.loads(output.strip().splitlines()[-1]))
        if command.text.startswith("helm test"):
            assert output.count("Phase:          Succeeded") == 2, output
    assert len(ran) >= 12
    before, after = chats
    assert before["ok"] and before["endpoint"] == "capable", before
    assert after["ok"] and after["endpoint"] == "cheap" and after["fallback-reason"], after
    for kind in ("podmonitor", "servicemonitor", "prometheusrule"):
        assert kubectl.get_json(kind, "-n", NAMESPACE)["items"], kind
    assert kubectl.find("configmap", f"{RELEASE}-dashboard", namespace=NAMESPACE) is not None
