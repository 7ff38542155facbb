"""Two operator replicas of a namespaced release (`--namespace`, a Role per namespace): one leads through
Kopf peering, and only it writes (in the ConfigMap's managedFields, the data has one field manager: the
leader's own);
killing it hands over within 30 s (SIGKILL: the peer's keep-alive expires, or it comes back with a lower
priority), deleting its pod hands over at once; RBAC is exactly the namespaced set, and nothing outside
the watched namespaces.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from chart_release import Release, operator_process
from kubectl_cli import Kubectl, is_converged
from rbac_checks import Check, peering_used, refused, used, wrong_answers

from support.stack import endpoint, route
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300, func_only=True)]

RELEASE = "sb-peering-switchboard"
HANDOVER_GOAL_SECONDS = 30.0


@dataclass
class Peers:
    release: Release
    watched: str


@pytest.fixture(scope="module")
def peers(kubectl: Kubectl, report: Callable[[str], None]) -> Iterator[Peers]:
    watched = f"sb-peering-team-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", watched, check=True)
    release = Release(RELEASE, f"sb-peering-{uuid.uuid4().hex[:6]}", kubectl)
    values = {"operator.allNamespaces": "false", "operator.watchNamespaces": f"{{{watched}}}"}
    try:
        release.install({**values, "operator.replicas": "2"})
        report(f"helm install (namespaced, 2 replicas, --wait): {release.timings['install']:.1f} s")
        release.wait_operators_ready(2)
        kubectl.apply(
            [endpoint("alpha", "http://127.0.0.1:9/v1"), endpoint("beta", "http://127.0.0.1:9/v1"),
             route("chat", ["alpha"], default=True)],
            namespace=watched,
        )  # fmt: skip
        wait_until(lambda: is_converged(kubectl, watched), timeout=60, what="the first compile")
        yield Peers(release, watched)
    finally:
        release.uninstall()
        for namespace in (watched, release.namespace):
            kubectl("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def data_writers(kubectl: Kubectl, namespace: str) -> set[str]:
    """The field managers that own ConfigMap switchboard-config's data (the compiled config).

    A replica's server-side apply takes over every field whose value it changes (force), so the data has
    exactly one owner: the replica that wrote the current config. (Fields that two replicas applied with the
    same value, its labels say, are co-owned: that is how server-side apply works.)"""
    config_map = kubectl.get_json("configmap", "switchboard-config", "-n", namespace, "--show-managed-fields")
    applies = [m for m in config_map["metadata"]["managedFields"] if m["operation"] == "Apply"]
    assert {m["manager"].partition("/")[0] for m in applies} == {"switchboard-operator"}
    return {m["manager"] for m in applies if "f:data" in m.get("fieldsV1", {})}


def config_version(kubectl: Kubectl, namespace: str) -> str:
    config = kubectl.config_json(namespace)
    return str((config or {}).get("version", ""))


def retarget(kubectl: Kubectl, namespace: str, target: str) -> None:
    kubectl.patch("modelroute", "chat", {"spec": {"targets": [{"endpoint": target}]}}, namespace=namespace)


def test_rbac_is_a_role_per_watched_namespace_and_nothing_elsewhere(kubectl: Kubectl, peers: Peers) -> None:
    release = peers.release
    account = f"system:serviceaccount:{release.namespace}:{RELEASE}"
    allowed = used(RELEASE, release.namespace, peers.watched) + peering_used(RELEASE, peers.watched)
    allowed += peering_used(RELEASE, release.namespace)  # the release namespace is always watched
    elsewhere: list[Check] = [
        ("list", "secrets", "default", ""),
        ("list", "modelroutes.switchboard.dev", "default", ""),
        ("patch", "configmaps/switchboard-config", "default", ""),
        ("list", "secrets", "", ""),  # not cluster-wide
        ("list", "clusterkopfpeerings.kopf.dev", "", ""),
    ]
    denied = refused(RELEASE, release.namespace, peers.watched) + elsewhere
    assert not wrong_answers(kubectl, account, allowed=allowed, denied=denied)


def test_only_the_leader_writes_under_its_own_field_manager(kubectl: Kubectl, peers: Peers) -> None:
    leader = peers.release.leader(peers.watched)
    retarget(kubectl, peers.watched, "beta")
    wait_until(lambda: is_converged(kubectl, peers.watched), timeout=30, what="the change compiled")
    assert data_writers(kubectl, peers.watched) == {f"switchboard-operator/{leader}"}
    for pod in peers.release.operator_pods():
        metrics = peers.release.operator_metrics(pod)
        leads = pod["metadata"]["name"] == leader
        has_succeeded = re.search(r"^switchboard_operator_last_success_timestamp_seconds ", metrics, re.M)
        assert bool(has_succeeded) == leads, pod["metadata"]["name"]


def _handover(
    kubectl: Kubectl, peers: Peers, kill: Callable[[str], None], target: str
) -> tuple[float, str, str]:
    """Kill the leader, change the route at once; (seconds until a replica served the change, old, new)."""
    old = peers.release.leader(peers.watched)
    before = config_version(kubectl, peers.watched)
    started = time.monotonic()
    kill(old)
    retarget(kubectl, peers.watched, target)
    namespace = peers.watched
    wait_until(
        lambda: config_version(kubectl, namespace) not in ("", before) and is_converged(kubectl, namespace),
        timeout=HANDOVER_GOAL_SECONDS + 30,
        interval=0.2,
        what="another replica compiling the change",
    )
    took = time.monotonic() - started
    (manager,) = data_writers(kubectl, peers.watched)
    return took, old, manager.removeprefix("switchboard-operator/")


def test_a_hard_killed_leader_is_replaced_within_30_seconds(
    kubectl: Kubectl, peers: Peers, report: Callable[[str], None]
) -> None:
    took, old, new = _handover(
        kubectl, peers, lambda pod: os.kill(operator_process(pod), signal.SIGKILL), target="alpha"
    )
    report(f"handover after SIGKILL of the leading replica: {took:.1f} s (goal: under 30 s)")
    assert took < HANDOVER_GOAL_SECONDS
    assert new != old and new in {p["metadata"]["name"] for p in peers.release.operator_pods()}
    peers.release.wait_operators_ready(2)  # the killed container came back, as a follower
    assert peers.release.leader(peers.watched) == new


def test_a_deleted_leader_pod_hands_over_at_once(
    kubectl: Kubectl, peers: Peers, report: Callable[[str], None]
) -> None:
    def delete(pod: str) -> None:
        kubectl("delete", "pod", pod, "-n", peers.release.namespace, "--wait=false", check=True)

    took, old, new = _handover(kubectl, peers, delete, target="beta")
    report(f"handover after deleting the leading replica's pod: {took:.1f} s")
    assert took < HANDOVER_GOAL_SECONDS and new != old
    pods = peers.release.wait_operators_ready(2)
    assert old not in {p["metadata"]["name"] for p in pods}
