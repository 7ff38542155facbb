"""The quality loop on the node: a real Prometheus scraping the injected pods every 5 s, the operator's fleet
loop reading it, and what the operator writes into status reaching every sidecar through its ConfigMap.

One namespace enforcing Pod Security `restricted` holds switchboard-sim as a pod, the endpoints pointing at
it, two routes with experiments and two pods injected by the operator's webhook. The operator runs as a
local process (kubeconfig, webhook on 127.0.0.1) with `--prometheus-url` and `--fleet-seconds 2`. Prometheus
runs on 127.0.0.1 with the scrape config the Prometheus Operator makes of the chart's PodMonitor
(kubernetes_sd_configs: every pod labelled for injection, its `sb-admin` port; `namespace` and `pod`
labels). Traffic is sent from inside each pod (`kubectl exec`, to its sidecar on 127.0.0.1:8787); faults
are set on the sim pod's control API from the host.

In file order:
- an error spike on the guarded candidate's endpoint trips the fleet guardrail: the candidate at weight 0
  in the config every sidecar serves within 60 s, condition, Warning Event, all new requests on control;
- a better candidate (its control fails 15% of requests) concludes the sequential test and, with
  `autoPromote`, serves 100% in every sidecar; `kubectl get mr` shows both: the verdict, and the variant
  the guardrail stopped;
- a third pod whose sidecar's API watch is denied (it presents no token: the API server sees
  `system:anonymous`, RBAC answers 403; the operator's Role stays as it is for every other pod) follows
  the mounted ConfigMap only: after a route change it is listed in `status.rollout.lagging` until the
  kubelet's volume update brings it the new config.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from kubectl_cli import CONFIG_MAP, Kubectl, condition, is_converged
from node_pods import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    SIM_PORT,
    image_names,
    pod_ip,
    remove_webhook,
    restricted_namespace,
    served_version,
    sim_documents,
    start_webhook_operator,
    wait_pod_ready,
)
from operator_process import Operator
from prometheus_server import Prometheus, start_prometheus

from support.quality_loop import MODELS, experiment_objects
from support.stack import http
from support.waiting import wait_until
from switchboard_operator.injection import CONFIG_DIR, INJECT_LABEL, InjectionSettings, inject_sidecar

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300, func_only=True)]

SIM_MODELS = [*MODELS, "plain"]
SCRAPE_INTERVAL = "5s"
FLEET_SECONDS = "2"
PODS = ("fleet-a", "fleet-b")
DENIED = "fleet-denied"
GUARDRAIL_GOAL_SECONDS = 60.0  # issue 10: weight 0 in every sidecar within 60 s of the spike
PROMOTE_TIMEOUT_SECONDS = 150.0
KUBELET_SYNC_SECONDS = 150  # the kubelet's volume refresh: its sync period (1 min) plus its cache delay
REQUESTS_PER_POD = 25  # per traffic round, from each pod
IDLE_APP = (
    "import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: exit(0))\nwhile True: time.sleep(60)"
)

TRAFFIC = """
import collections, concurrent.futures, json, sys, urllib.error, urllib.request
route, count = sys.argv[1], int(sys.argv[2])
def one(i):
    body = json.dumps({"model": route, "messages": [{"role": "user", "content": f"hi {i}"}]}).encode()
    request = urllib.request.Request("http://127.0.0.1:8787/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return f"{response.status} {response.headers.get('X-Switchboard-Variant', '')}"
    except urllib.error.HTTPError as error:
        return f"{error.code} {error.headers.get('X-Switchboard-Variant', '')}"
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    print(json.dumps(collections.Counter(pool.map(one, range(count)))))
"""


def resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "switchboard.dev/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def namespace_resources(sim_url: str) -> list[dict[str, Any]]:
    """The quality loop's experiments, and a plain route (the one the lagging-sidecar test changes)."""
    plain = resource("ModelEndpoint", "plain", {"url": f"{sim_url}/v1", "model": "plain"})
    route = resource("ModelRoute", "plain", {"targets": [{"endpoint": "plain"}], "deadlineMs": 20000})
    return [plain, *experiment_objects(resource, sim_url), route]


def pod_monitor(namespace: str) -> dict[str, Any]:
    """The chart's PodMonitor (charts/switchboard/templates/podmonitor.yaml) for one watched namespace."""
    endpoint = {
        "port": "sb-admin",
        "path": "/metrics",
        "interval": SCRAPE_INTERVAL,
        "relabelings": [{"action": "labeldrop", "regex": "endpoint"}],
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "switchboard-sidecars", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {INJECT_LABEL: "true"}},
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [endpoint],
        },
    }


def fleet_pod(name: str, *, image: str) -> dict[str, Any]:
    """A pod labelled for injection whose app does nothing: traffic is sent by `kubectl exec`."""
    app = {
        "name": "app",
        "image": image,
        "imagePullPolicy": "Never",
        "command": ["python3", "-c", IDLE_APP],
        "securityContext": {**CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "fleet", INJECT_LABEL: "true"}},
        "spec": {"terminationGracePeriodSeconds": 2, "securityContext": POD_SECURITY, "containers": [app]},
    }


def denied_pod(name: str, *, image: str) -> dict[str, Any]:
    """`fleet_pod` injected as the webhook would, but for one flag: the sidecar reads its bearer token
    from a file that does not exist, so its ConfigMap list and watch go out without one and RBAC
    refuses `system:anonymous` (403). The webhook leaves an already injected pod as it is."""
    pod = inject_sidecar(
        fleet_pod(name, image=image), InjectionSettings(image=image, image_pull_policy="Never")
    )
    (sidecar,) = pod["spec"]["initContainers"]
    sidecar["args"] += ["--kube-token-file", "/etc/switchboard/no-such-token"]
    return pod


@dataclass
class Fleet:
    namespace: str
    sim_url: str
    prometheus: Prometheus
    operator: Operator
    image: str

    def traffic(self, kubectl: Kubectl, route: str, count: int = REQUESTS_PER_POD) -> Counter[str]:
        """`count` requests to `route` from inside each pod, at once; "status variant" -> how many."""

        def one(pod: str) -> str:
            argv = ["exec", pod, "-n", self.namespace, "-c", "app", "--", "python3", "-c", TRAFFIC]
            return str(kubectl(*argv, route, str(count), check=True, timeout=120).stdout)

        seen: Counter[str] = Counter()
        with ThreadPoolExecutor(len(PODS)) as pool:
            for out in pool.map(one, PODS):
                seen.update(json.loads(out.strip().splitlines()[-1]))
        return seen

    def fault(self, model: str, **profile: Any) -> None:
        """Change the sim pod's profile of `model` (its control API, from the host)."""
        assert http("PUT", f"{self.sim_url}/sim/models/{model}", profile).status == 200

    def route_status(self, kubectl: Kubectl, route: str) -> dict[str, Any]:
        found = kubectl.find("modelroute", route, namespace=self.namespace)
        return dict((found or {}).get("status") or {})

    def compiled(self, kubectl: Kubectl) -> dict[str, Any]:
        """The config the operator wrote last (the ConfigMap's config.json)."""
        config = kubectl.config_json(self.namespace)
        assert config is not None, f"no ConfigMap {CONFIG_MAP}"
        return config

    def weights(self, config: dict[str, Any], route: str) -> dict[str, int]:
        return {v["name"]: v["weight"] for v in config["routes"][route]["variants"]}

    def every_sidecar_serves(self, kubectl: Kubectl, version: str, pods: tuple[str, ...] = PODS) -> bool:
        return all(served_version(pod_ip(kubectl, self.namespace, pod)) == version for pod in pods)

    def scraped(self) -> set[str]:
        """Pods whose sidecar Prometheus scrapes and finds up."""
        found = self.prometheus.query(f'up{{namespace="{self.namespace}"}} == 1')
        return {sample["metric"]["pod"] for sample in found}


@pytest.fixture(scope="module")
def fleet(kubectl: Kubectl, crds: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    name = f"sb-qloop-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", input=yaml.safe_dump(restricted_namespace(name)), check=True)
    wait_until(
        lambda: kubectl.find("serviceaccount", "default", namespace=name), timeout=30, what="default SA"
    )
    remove_webhook(kubectl)
    directory = tmp_path_factory.mktemp("quality-loop")
    prometheus = start_prometheus(
        [pod_monitor(name)],
        None,
        kubeconfig=kubectl.kubeconfig,
        directory=directory,
        interval=SCRAPE_INTERVAL,
    )
    running: Operator | None = None
    try:
        extra = ("--prometheus-url", prometheus.url, "--fleet-seconds", FLEET_SECONDS)
        running, _ = start_webhook_operator(kubectl, name, directory / "pki", *extra)
        image = image_names()["switchboard"]
        kubectl.apply(sim_documents({m: {} for m in SIM_MODELS}, image=image), namespace=name)
        wait_pod_ready(kubectl, name, "sim")
        sim_url = f"http://{pod_ip(kubectl, name, 'sim')}:{SIM_PORT}"
        kubectl.apply(namespace_resources(sim_url), namespace=name)
        wait_until(lambda: is_converged(kubectl, name), timeout=60, what="the operator's first compile")
        kubectl.apply([fleet_pod(pod, image=image) for pod in PODS], namespace=name)
        for pod in PODS:
            wait_pod_ready(kubectl, name, pod)
        state = Fleet(name, sim_url, prometheus, running, image)
        wait_until(lambda: state.scraped() == set(PODS), timeout=60, what="both pods scraped and up")
        yield state
    finally:
        if running is not None:
            running.stop()
        prometheus.stop()
        remove_webhook(kubectl)
        kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def test_an_error_spike_on_the_candidate_trips_the_guardrail_in_every_sidecar_within_60_s(
    kubectl: Kubectl, fleet: Fleet, report: Callable[[str], None]
) -> None:
    warm = fleet.traffic(kubectl, "guarded")
    assert {key.split()[0] for key in warm} == {"200"}, warm
    fleet.fault("cand-a", fault="error-503", error_rate=0.5)
    spiked = time.monotonic()
    tripped_after: list[float] = []

    def everywhere() -> bool:
        fleet.traffic(kubectl, "guarded")
        if not tripped_after and "candidate" in fleet.route_status(kubectl, "guarded").get(
            "experiment", {}
        ).get("stopped", []):
            tripped_after.append(time.monotonic() - spiked)
        config = fleet.compiled(kubectl)
        return fleet.weights(config, "guarded")["candidate"] == 0 and fleet.every_sidecar_serves(
            kubectl, config["version"]
        )

    wait_until(everywhere, timeout=GUARDRAIL_GOAL_SECONDS, interval=0, what="candidate at 0 in every sidecar")
    elapsed = time.monotonic() - spiked
    tripped = tripped_after[0] if tripped_after else elapsed
    report(
        f"quality loop: error spike -> guardrail tripped in status {tripped:.1f}s, candidate at weight 0 "
        f"in every sidecar {elapsed:.1f}s after the spike ({elapsed - tripped:.1f}s after the trip)"
    )
    status = fleet.route_status(kubectl, "guarded")
    assert status["experiment"]["stopped"] == ["candidate"], status["experiment"]
    (breach,) = status["experiment"]["breaches"]
    assert breach["metric"] == "error-rate" and breach["value"] > 0.05, breach
    assert condition({"status": status}, "ExperimentGuardrailTripped")["status"] == "True"
    warnings = [
        e
        for e in kubectl.events(fleet.namespace)
        if e.get("reason") == "ExperimentGuardrailTripped" and e["involvedObject"]["name"] == "guarded"
    ]
    assert warnings and warnings[0]["type"] == "Warning" and "error-rate" in warnings[0]["message"], warnings
    after = fleet.traffic(kubectl, "guarded", 10)
    assert {key.split()[1] for key in after} == {"control"}, after


def test_a_better_candidate_concludes_and_is_promoted_in_every_sidecar(
    kubectl: Kubectl, fleet: Fleet, report: Callable[[str], None]
) -> None:
    fleet.fault("ctl-b", fault="error-503", error_rate=0.15)
    started = time.monotonic()
    sent: Counter[str] = Counter()

    def promoted() -> bool:
        sent.update(fleet.traffic(kubectl, "promoted"))
        config = fleet.compiled(kubectl)
        return fleet.weights(config, "promoted") == {
            "control": 0,
            "candidate": 100,
        } and fleet.every_sidecar_serves(kubectl, config["version"])

    wait_until(promoted, timeout=PROMOTE_TIMEOUT_SECONDS, interval=0, what="candidate promoted everywhere")
    elapsed = time.monotonic() - started
    status = fleet.route_status(kubectl, "promoted")
    experiment = status["experiment"]
    counted = {v["name"]: v["requests"] for v in experiment["variants"]}
    report(
        f"quality loop: experiment concluded '{experiment['verdict']}' and promoted in every sidecar "
        f"{elapsed:.1f}s after the control began failing, {sum(sent.values())} requests sent "
        f"(Prometheus counted {counted} at the verdict)"
    )
    assert experiment["verdict"] == "candidate wins" and experiment["promoted"] is True, experiment
    assert condition({"status": status}, "ExperimentConcluded")["reason"] == "Promoted"
    after = fleet.traffic(kubectl, "promoted", 10)
    assert set(after) == {"200 candidate"}, after


def get_mr_rows(kubectl: Kubectl, namespace: str) -> dict[str, dict[str, str]]:
    """`kubectl get mr -o wide`, as {route: {column: value}} (columns split on runs of 2+ spaces)."""
    lines = kubectl("get", "mr", "-n", namespace, "-o", "wide", check=True).stdout.splitlines()
    header, rows = lines[0], lines[1:]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    table = {}
    for row in rows:
        cells = [row[a:b].strip() for a, b in zip(starts, [*starts[1:], len(row) + 1], strict=True)]
        values = dict(zip(names, cells, strict=True))
        table[values["NAME"]] = values
    return table


def test_kubectl_get_mr_shows_the_verdicts_and_the_rollout(
    kubectl: Kubectl, fleet: Fleet, report: Callable[[str], None]
) -> None:
    table = kubectl("get", "mr", "-n", fleet.namespace, "-o", "wide", check=True).stdout
    report("quality loop: kubectl get mr -o wide\n" + table.rstrip())
    rows = get_mr_rows(kubectl, fleet.namespace)
    assert rows["promoted"]["VERDICT"] == "candidate wins", rows
    guarded = fleet.route_status(kubectl, "guarded")
    assert rows["guarded"]["VERDICT"] == guarded["experiment"]["verdict"], rows
    assert rows["guarded"]["STOPPED"] == '["candidate"]', rows  # the guardrail's trip
    assert rows["promoted"]["STOPPED"] in {"", "[]"}, rows
    assert {row["SIDECARS"] for row in rows.values()} == {str(len(PODS))}, rows


def test_status_rollout_reports_a_sidecar_with_its_watch_denied_until_it_catches_up(
    kubectl: Kubectl, fleet: Fleet, report: Callable[[str], None]
) -> None:
    namespace = fleet.namespace
    kubectl.apply([denied_pod(DENIED, image=fleet.image)], namespace=namespace)
    wait_pod_ready(kubectl, namespace, DENIED)
    wait_until(
        lambda: "HTTP 403" in kubectl("logs", DENIED, "-n", namespace, "-c", "switchboard-proxy").stdout,
        timeout=30,
        what="the sidecar's ConfigMap watch refused (403)",
    )

    def rollout() -> dict[str, Any]:
        found: dict[str, Any] = fleet.route_status(kubectl, "plain").get("rollout", {})
        return found

    pods = {*PODS, DENIED}
    wait_until(
        lambda: (r := rollout()).get("total") == 3 and r.get("current") == 3 and r,
        timeout=60,
        what="three sidecars on the current config",
    )
    # The kubelet refreshes a pod's ConfigMap volume when it syncs the pod: on the pod's own changes and
    # then every sync period (1 min, plus up to 50% jitter, counted from the last sync). An annotation makes
    # it sync now, so that the refresh that ends the lag is a full period away and cannot come before
    # status.rollout had its chance (a scrape and a fleet pass, under 10 s) to list the pod.
    kubectl("annotate", "pod", DENIED, "-n", namespace, f"test.switchboard.dev/synced={time.time()}")
    time.sleep(2)  # the kubelet's sync of that update
    before = fleet.compiled(kubectl)["version"]
    kubectl.patch("modelroute", "plain", {"spec": {"deadlineMs": 25000}}, namespace=namespace)
    changed = time.monotonic()
    version = wait_until(
        lambda: (v := fleet.compiled(kubectl)["version"]) != before and v, timeout=30, what="a new config"
    )
    wait_until(lambda: fleet.every_sidecar_serves(kubectl, version), timeout=15, what="the watching pods")
    lagging = wait_until(
        lambda: (r := rollout()).get("version") == version and r.get("lagging") == [DENIED] and r,
        timeout=30,
        what=f"{DENIED} listed as lagging",
    )
    reported = time.monotonic() - changed
    assert (lagging["current"], lagging["total"]) == (2, 3), lagging
    caught_up = wait_until(
        lambda: (r := rollout()).get("version") == version and r.get("lagging") == [] and r,
        timeout=KUBELET_SYNC_SECONDS,
        interval=1,
        what=f"{DENIED} caught up (the kubelet's volume update)",
    )
    took = time.monotonic() - changed
    assert (caught_up["current"], caught_up["total"]) == (3, 3), caught_up
    assert fleet.every_sidecar_serves(kubectl, version, tuple(sorted(pods)))
    logs = kubectl("logs", DENIED, "-n", namespace, "-c", "switchboard-proxy").stdout
    served = [line for line in logs.splitlines() if f"serving config {version} from" in line]
    assert served and f"from {CONFIG_DIR}/config.json " in served[0], logs  # the file, not the watch
    report(
        f"quality loop: a sidecar with its watch denied listed in status.rollout.lagging {reported:.1f}s "
        f"after a route change, caught up (kubelet volume update) and reported so {took:.1f}s after it"
    )
