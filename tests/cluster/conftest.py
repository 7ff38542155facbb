"""Fixtures of the cluster tier: a real control plane, the CRDs, a namespace per test, the operator and
sidecars as real processes, and one switchboard-sim for the session.

- `control_plane` runs `tests/cluster/controlplane.sh up` once (a cold build takes about ten minutes and
  prints its progress; a warm start about ten seconds) and runs `down` at the end only if this session
  started it. If `up` fails, every test fails with its output: the tier never skips.
- `operator` starts `switchboard-operator --namespace NS` with KUBECONFIG set, ready when its /healthz
  answers; `sidecar` starts `switchboard-proxy`. Both are stopped after the test, and a failing test's
  report carries the tail of their logs.
- `report` collects measurements (propagation times), printed in a "cluster measurements" section.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import chart_release
import pytest
from cluster_resources import SIM_MODELS
from kubectl_cli import Kubectl
from operator_process import Operator, start_operator

from support.processes import REPO_ROOT, Process
from support.stack import start_proxy, start_sim

# `kubelet_mirror` reuses KubeletVolume (the kubelet's `..data` symlink swap) from the sidecar integration
# tests rather than copying it.
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration" / "proxy" / "api"))

CONTROLPLANE = REPO_ROOT / "tests" / "cluster" / "controlplane.sh"
KUBECONFIG = REPO_ROOT / ".cluster" / "kubeconfig"
UP_TIMEOUT_SECONDS = 5400  # a cold `up` builds kube-apiserver, kube-controller-manager, etcd and helm
CRD_NAMES = [f"{plural}.switchboard.dev" for plural in ("modelendpoints", "fallbackpolicies", "modelroutes")]
LOG_TAIL_CHARS = 6000
MEASUREMENTS: list[str] = []


def _controlplane(command: str, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONTROLPLANE), command], capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
    )


def _bring_up(show: Callable[[str], None]) -> tuple[int, str]:
    """Run `controlplane.sh up`, showing each line as it comes (a cold build is long); (exit code, output)."""
    process = subprocess.Popen(
        [str(CONTROLPLANE), "up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    watchdog = threading.Timer(UP_TIMEOUT_SECONDS, os.killpg, (process.pid, signal.SIGKILL))
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            show(line.rstrip("\n"))
        return process.wait(), "".join(lines)
    finally:
        watchdog.cancel()


@pytest.fixture(scope="session")
def control_plane(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The local control plane's kubeconfig; started (and at the end stopped) unless it was already up."""
    was_up = _controlplane("status").returncode == 0
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show(line: str) -> None:
        if was_up or capture is None:
            return
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n{line}")
            sys.stderr.flush()

    show("starting the local control plane (tests/cluster/controlplane.sh up; first run builds ~10 min)")
    code, output = _bring_up(show)
    show("")  # the test progress starts on a line of its own
    if code != 0:
        pytest.fail(f"tests/cluster/controlplane.sh up failed (exit {code}):\n{output}", pytrace=False)
    yield KUBECONFIG
    if not was_up:
        down = _controlplane("down")
        assert down.returncode == 0, f"controlplane.sh down failed:\n{down.stdout}{down.stderr}"


@pytest.fixture(scope="session")
def kubectl(control_plane: Path) -> Kubectl:
    return Kubectl(control_plane)


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> list[str]:
    """`kubectl apply -f crds/`, then wait until the API server serves the three kinds."""
    kubectl("apply", "-f", str(REPO_ROOT / "crds"), check=True)
    kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{n}" for n in CRD_NAMES), check=True
    )
    return CRD_NAMES


@pytest.fixture
def namespace(kubectl: Kubectl, crds: list[str], request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted afterwards (without waiting for it to go)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")
    name = f"sb-{slug[:44].strip('-')}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name, check=True)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def _keep_for_report(request: pytest.FixtureRequest, name: str, process: Process) -> None:
    logs: list[tuple[str, Process]] = request.node.__dict__.setdefault("switchboard_logs", [])
    logs.append((name, process))


@pytest.fixture
def operator(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[Callable[..., Operator]]:
    """Factory: `operator(namespace, *extra_args)` starts switchboard-operator and waits for /healthz."""
    started: list[Operator] = []

    def start(namespace: str, *args: str) -> Operator:
        running = start_operator(namespace, *args, kubeconfig=kubectl.kubeconfig)
        _keep_for_report(request, f"operator #{len(started) + 1}", running.process)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()


@pytest.fixture
def sidecar(request: pytest.FixtureRequest) -> Iterator[Callable[..., Process]]:
    """Factory: `sidecar(config=PATH, args=[...])` starts switchboard-proxy; ready when /readyz answers."""
    started: list[Process] = []

    def start(*, config: Path, args: Sequence[str] = ()) -> Process:
        process = start_proxy(config=config, args=args)
        _keep_for_report(request, f"sidecar #{len(started) + 1}", process)
        started.append(process)
        return process

    yield start
    for running in reversed(started):
        running.stop()


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """One switchboard-sim for the session; the tests' endpoints point at it."""
    process = start_sim(SIM_MODELS, tmp_dir=tmp_path_factory.mktemp("sim"))
    yield process
    process.stop()


@pytest.fixture(scope="session")
def report() -> Callable[[str], None]:
    """Record a measurement for the summary at the end of the run."""
    return MEASUREMENTS.append


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    result: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if result.when in ("setup", "call") and result.failed:
        for name, process in item.__dict__.get("switchboard_logs", []):
            result.sections.append((f"{name} log (tail)", process.log_text()[-LOG_TAIL_CHARS:]))
        for release in chart_release.LIVE:
            result.sections.append((f"release {release.name}: operator logs (tail)", release.operator_logs()))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("cluster measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)
