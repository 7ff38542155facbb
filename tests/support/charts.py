"""The chart's tools for tests: helm (built by tests/cluster/controlplane.sh), `helm template`, and where the
Prometheus Operator and cert-manager CRDs and the Kubernetes-SD Prometheus are (tests/chart/tools.sh).

Nothing here skips: a missing tool fails the test with the command that provides it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.processes import REPO_ROOT

CHART = REPO_ROOT / "charts" / "switchboard"
CONTROLPLANE = REPO_ROOT / "tests" / "cluster" / "controlplane.sh"
TOOLS = REPO_ROOT / "tests" / "chart" / "tools.sh"
EVERYTHING_ON = REPO_ROOT / "tests" / "chart" / "values-everything-on.yaml"
RELEASE, NAMESPACE = "switchboard", "switchboard-system"


@functools.cache
def helm_binary() -> str:
    """The pinned helm of tests/cluster/controlplane.sh (`controlplane.sh build` makes it)."""
    version = re.search(r'^HELM_VERSION="([^"]+)"', CONTROLPLANE.read_text(), re.MULTILINE)
    assert version, "HELM_VERSION not found in controlplane.sh"
    cache = Path(os.environ.get("SWITCHBOARD_CACHE", Path.home() / ".cache" / "switchboard"))
    binary = cache / "bin" / f"helm-{version.group(1)}" / "helm"
    assert binary.exists(), f"{binary} is missing: run tests/cluster/controlplane.sh build"
    return str(binary)


@functools.cache
def tool_paths() -> dict[str, Path]:
    """PROMETHEUS, PROMETHEUS_OPERATOR_CRDS, CERT_MANAGER_CRDS (tests/chart/tools.sh build makes them)."""
    result = subprocess.run([str(TOOLS), "paths"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"tests/chart/tools.sh paths failed:\n{result.stderr}"
    paths = dict(line.split("=", 1) for line in result.stdout.split())
    return {name: Path(value) for name, value in paths.items()}


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (Debian's package)"
    return found


def helm(*args: str, kubeconfig: Path | None = None, timeout: float = 120, check: bool = True) -> str:
    """Run helm; its stdout, plus its stderr unless `check` (then a failure raises, showing stderr)."""
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/switchboard-helm-cache"}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    result = subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout + (result.stderr if not check else "")


def set_args(values: dict[str, str]) -> list[str]:
    return [argument for key, value in values.items() for argument in ("--set", f"{key}={value}")]


@dataclass(frozen=True)
class Rendered:
    """`helm template` output, parsed."""

    documents: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def one(self, kind: str, name: str = "") -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if not name or d["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} {name!r} rendered"
        return found[0]

    def hooks(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]


def render(
    *values_files: Path,
    values: dict[str, str] | None = None,
    chart: Path = CHART,
    namespace: str = NAMESPACE,
    extra: Sequence[str] = (),
) -> Rendered:
    """`helm template switchboard CHART -n NAMESPACE` with these values (the CRDs of crds/ included)."""
    arguments = ["template", RELEASE, str(chart), "--namespace", namespace, "--include-crds"]
    arguments += [f"--values={path}" for path in values_files] + set_args(values or {}) + list(extra)
    documents = [d for d in yaml.safe_load_all(helm(*arguments)) if d]
    return Rendered(documents)
