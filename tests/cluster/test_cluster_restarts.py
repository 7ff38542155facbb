"""The operator killed mid-burst converges to exactly what a clean compile gives; with nothing to do, it
writes nothing, also across a restart.

Reconciling recompiles the whole namespace from what the API server holds, so the expected ConfigMap is
`switchboard compile` over the final objects fetched from the API.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_resources import keyed_endpoint, secret, two_routes
from kubectl_cli import CONFIG_MAP, CREDENTIALS_SECRET, Kubectl, is_converged, spec_documents
from operator_process import Operator

from support.processes import Process, console_script
from support.stack import endpoint, policy, route
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(150, func_only=True)]

MANAGED = "app.kubernetes.io/managed-by=switchboard-operator"
OWNED_KINDS = "configmaps,secrets,roles,rolebindings"


def burst_documents(sim_url: str) -> list[dict[str, Any]]:
    """Four endpoints, a policy and three routes sharing them."""
    return [
        *(endpoint(f"ep-{i}", sim_url, limits={"maxConcurrency": 10}) for i in range(4)),
        policy("pol", chain=["ep-3"], timeouts={"connectMs": 200, "firstTokenMs": 1000, "totalMs": 5000}),
        *(
            route(
                f"r-{i}",
                [{"endpoint": "ep-0", "weight": 50}, {"endpoint": f"ep-{i + 1}", "weight": 50}],
                deadlineMs=1000,
                fallbackPolicy="pol",
            )
            for i in range(3)
        ),
    ]


def burst_changes(count: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, merge patch): deadlines, weights, endpoint limits and policy timeouts, in turn."""
    changes: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(count):
        step = i % 4
        if step == 0:
            changes.append(("modelroute", f"r-{i % 3}", {"spec": {"deadlineMs": 1000 + i}}))
        elif step == 1:
            weight = 10 + i
            targets = [
                {"endpoint": "ep-0", "weight": weight},
                {"endpoint": f"ep-{i % 3 + 1}", "weight": 100 - weight},
            ]
            changes.append(("modelroute", f"r-{i % 3}", {"spec": {"targets": targets}}))
        elif step == 2:
            changes.append(("modelendpoint", f"ep-{i % 4}", {"spec": {"limits": {"maxConcurrency": 10 + i}}}))
        else:
            changes.append(("fallbackpolicy", "pol", {"spec": {"timeouts": {"totalMs": 5000 + i}}}))
    return changes


def compile_objects(objects: list[dict[str, Any]], *, namespace: str, directory: Path) -> dict[str, Any]:
    """`switchboard compile` over the objects as fetched from the API server."""
    path = directory / "final.yaml"
    path.write_text(yaml.safe_dump_all(spec_documents(objects)))
    argv = [console_script("switchboard"), "compile", str(path), "--namespace", namespace]
    compiled: dict[str, Any] = json.loads(
        subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    )
    return compiled


def test_a_burst_of_changes_with_the_operator_killed_midway_converges_to_a_clean_compile(
    kubectl: Kubectl,
    namespace: str,
    operator: Callable[..., Operator],
    sim: Process,
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    kubectl.apply(burst_documents(sim.base_url), namespace=namespace)
    first = operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=30, what="convergence")

    changes = burst_changes(50)
    for index, (kind, name, patch) in enumerate(changes):
        if index == len(changes) // 2:
            first.kill()
        kubectl.patch(kind, name, patch, namespace=namespace)
    assert first.process.popen.returncode == -9  # it was running until the SIGKILL

    restarted = time.monotonic()
    second = operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=60, what="convergence after the restart")
    report(f"restart after SIGKILL mid-burst (50 changes): converged in {time.monotonic() - restarted:.1f}s")

    objects = kubectl.switchboard_objects(namespace)
    assert max(o["metadata"]["generation"] for o in objects) > 5  # the burst really changed them
    assert kubectl.config_json(namespace) == compile_objects(objects, namespace=namespace, directory=tmp_path)

    # No duplicates: one object of each kind written, every route an owner once, one Ready Event each.
    owned = kubectl.get_json(OWNED_KINDS, "-n", namespace, "-l", MANAGED)["items"]
    assert sorted(o["kind"] for o in owned) == ["ConfigMap", "Role", "RoleBinding", "Secret"]
    routes = sorted(o["metadata"]["uid"] for o in objects if o["kind"] == "ModelRoute")
    for obj in owned:
        assert sorted(r["uid"] for r in obj["metadata"]["ownerReferences"]) == routes, obj["kind"]
    ready = [e["involvedObject"]["name"] for e in kubectl.events(namespace) if e["reason"] == "Ready"]
    assert sorted(ready) == sorted(o["metadata"]["name"] for o in objects)
    assert "Traceback" not in second.log_text()


def resource_versions(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of what the operator writes, and the number of Events."""
    owned = kubectl.get_json(OWNED_KINDS, "-n", namespace, "-l", MANAGED)["items"]
    versions = {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in owned}
    versions["events"] = str(len(kubectl.events(namespace)))
    return versions


@pytest.mark.parametrize("with_keys", [True, False], ids=["with-keys", "no-keys"])
def test_nothing_is_written_when_nothing_changed_even_across_a_restart(
    kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], sim: Process, with_keys: bool
) -> None:
    # A route that cannot be served (Ready=False) must be as quiet as the others.
    documents = [*two_routes(sim.base_url), route("dangling", ["ghost", "alpha"])]
    if with_keys:  # else the credentials Secret has no data, which the API server reads back as absent
        documents += [
            secret("upstream", {"api-key": "quiet-key"}),
            keyed_endpoint("keyed", sim.base_url, secret_name="upstream"),
            route("vault", ["keyed"]),
        ]
    kubectl.apply(documents, namespace=namespace)
    first = operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=30, what="convergence")
    before = resource_versions(kubectl, namespace)
    assert {f"ConfigMap/{CONFIG_MAP}", f"Secret/{CREDENTIALS_SECRET}"} <= set(before)
    writes = first.log_text().count(" applied (")

    time.sleep(4)
    assert resource_versions(kubectl, namespace) == before
    assert first.log_text().count(" applied (") == writes, "the operator rewrote objects with nothing changed"
    # Read only now: Kopf marks an object handled (its annotations) in a patch of its own after the
    # handler wrote the status that convergence looks at, so the last object's version can still move
    # for a moment after convergence.
    objects_before = switchboard_versions(kubectl, namespace)

    first.stop()
    second = operator(namespace)
    # Kopf resumes every object on start; each resume reconciles the namespace.
    wait_until(
        lambda: second.log_text().count("Resuming is processed") >= len(objects_before),
        timeout=30,
        what="every object resumed",
    )
    time.sleep(2)
    assert resource_versions(kubectl, namespace) == before
    assert " applied (" not in second.log_text(), (
        "the restarted operator rewrote objects with nothing changed"
    )
    assert switchboard_versions(kubectl, namespace) == objects_before  # no status or annotation rewritten


def switchboard_versions(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    return {
        o["metadata"]["name"]: o["metadata"]["resourceVersion"]
        for o in kubectl.switchboard_objects(namespace)
    }
