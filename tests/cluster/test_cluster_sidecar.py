"""The operator's ConfigMap and credentials Secret feeding a running sidecar, as in a pod.

A local switchboard-proxy reads what the operator wrote, through the two paths a pod has:
- the mounted volume: `KubeletMirror` copies the ConfigMap and Secret into directories with the kubelet's
  `..data` symlink swap, and the sidecar polls the file;
- the API watch (`--watch-configmap`) with a real service-account token: the operator's Role/RoleBinding
  grant the namespace's service accounts read access to exactly that ConfigMap. The mounted file stays at
  its bootstrap version there, so every change seen came through the watch.
Requests go to a switchboard-sim; X-Switchboard-Route/-Endpoint show the routing served. The `keyed`
endpoint answers only with the key from the credentials Secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cluster_resources import UPSTREAM_KEY, keyed_endpoint, secret
from kubectl_cli import CONFIG_MAP, CREDENTIALS_SECRET, Kubectl, condition, is_converged, is_status
from kubelet_mirror import KubeletMirror
from operator_process import Operator

from support.processes import Process
from support.stack import endpoint, http, read_metric, route
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120, func_only=True)]

PROPAGATION_GOAL_SECONDS = 5  # SPEC 4: a resource change is served by every sidecar within 5 s
RELOADS = "switchboard_config_reloads_total"


def documents(sim_url: str) -> list[dict[str, Any]]:
    """chat (default) -> alpha, side -> beta, vault -> keyed (needs the Secret's key), both -> gamma+beta."""
    return [
        secret("upstream", {"api-key": UPSTREAM_KEY}),
        endpoint("alpha", sim_url),
        endpoint("beta", sim_url),
        endpoint("gamma", sim_url),
        keyed_endpoint("keyed", sim_url, secret_name="upstream"),
        route("chat", ["alpha"], default=True),
        route("side", ["beta"]),
        route("vault", ["keyed"]),
        route("both", [{"endpoint": "gamma", "weight": 50}, {"endpoint": "beta", "weight": 50}]),
    ]


def served_by(proxy: Process, model: str) -> tuple[str, str]:
    """(route, endpoint) that served one chat completion for `model`."""
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    reply = http("POST", f"{proxy.base_url}/v1/chat/completions", body, timeout=10)
    assert reply.status == 200, reply.body
    return reply.header("X-Switchboard-Route") or "", reply.header("X-Switchboard-Endpoint") or ""


def seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}s" for v in values)


def serving_version(proxy: Process) -> str:
    return str(http("GET", f"{proxy.base_url}/switchboard/config").json()["version"])


def route_to(kubectl: Kubectl, namespace: str, name: str, target: str, proxy: Process) -> float:
    """Patch route `name` to `target`; seconds until the sidecar serves the change (polled every 20 ms)."""
    started = time.monotonic()
    kubectl.patch("modelroute", name, {"spec": {"targets": [{"endpoint": target}]}}, namespace=namespace)
    wait_until(
        lambda: served_by(proxy, name) == (name, target), timeout=15, interval=0.02, what=f"{name}->{target}"
    )
    return time.monotonic() - started


@pytest.fixture
def deployed(kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], sim: Process) -> str:
    """The documents applied and compiled by a running operator; the namespace."""
    kubectl.apply(documents(sim.base_url), namespace=namespace)
    operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=30, what="convergence")
    return namespace


def mounted(kubectl: Kubectl, namespace: str, tmp_path: Path) -> tuple[KubeletMirror, KubeletMirror]:
    """The ConfigMap and the credentials Secret published once into kubelet-style directories."""
    config = KubeletMirror(
        kubectl, namespace=namespace, kind="configmap", name=CONFIG_MAP, directory=tmp_path / "config"
    )
    credentials = KubeletMirror(
        kubectl,
        namespace=namespace,
        kind="secret",
        name=CREDENTIALS_SECRET,
        directory=tmp_path / "credentials",
    )
    assert config.sync() and credentials.sync()
    return config, credentials


def watching_sidecar(
    kubectl: Kubectl, namespace: str, tmp_path: Path, sidecar: Callable[..., Process]
) -> Process:
    """A sidecar with --watch-configmap, authenticated as the namespace's default service account."""
    wait_until(
        lambda: kubectl.find("serviceaccount", "default", namespace=namespace),
        timeout=30,
        what="the default service account",
    )
    token = tmp_path / "token"
    token.write_text(
        kubectl("-n", namespace, "create", "token", "default", "--duration=10m", check=True).stdout
    )
    config, credentials = mounted(kubectl, namespace, tmp_path)
    proxy = sidecar(
        config=config.volume.path("config.json"),
        args=[
            *("--credentials-dir", str(credentials.volume.directory)),
            *("--watch-configmap", f"{namespace}/{CONFIG_MAP}"),
            *("--kube-api", kubectl.server()),
            *("--kube-token-file", str(token)),
            *("--kube-ca-file", str(kubectl.write_ca(tmp_path / "ca.crt"))),
        ],
    )
    # The API's first answer holds the config the file has: the sidecar counts it as an unchanged reload.
    wait_until(
        lambda: read_metric(
            http("GET", f"{proxy.base_url}/metrics").body.decode(), RELOADS, result="unchanged"
        ),
        timeout=10,
        what="the sidecar reading the ConfigMap through the API",
    )
    return proxy


def test_a_route_change_reaches_the_sidecar_through_the_kubelet_style_volume(
    kubectl: Kubectl,
    deployed: str,
    sidecar: Callable[..., Process],
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    namespace = deployed
    config, credentials = mounted(kubectl, namespace, tmp_path)
    proxy = sidecar(
        config=config.volume.path("config.json"),
        args=["--credentials-dir", str(credentials.volume.directory)],
    )
    assert served_by(proxy, "chat") == ("chat", "alpha")
    assert served_by(proxy, "vault") == ("vault", "keyed")  # the sim checked the key from the Secret
    assert served_by(proxy, "something-else") == ("chat", "alpha")  # the default route

    config.start()
    credentials.start()
    try:
        took = [route_to(kubectl, namespace, "chat", target, proxy) for target in ("beta", "gamma")]
    finally:
        config.stop()
        credentials.stop()
    report(f"ConfigMap -> sidecar via kubelet-style file (0.2 s copy loop): {seconds(took)}")
    assert max(took) < PROPAGATION_GOAL_SECONDS
    assert serving_version(proxy) == kubectl.config_json(namespace)["version"]
    assert served_by(proxy, "side") == ("side", "beta")  # untouched routes keep their routing


def test_a_route_change_reaches_the_sidecar_through_the_api_watch_within_five_seconds(
    kubectl: Kubectl,
    deployed: str,
    sidecar: Callable[..., Process],
    tmp_path: Path,
    report: Callable[[str], None],
) -> None:
    namespace = deployed
    account = f"system:serviceaccount:{namespace}:default"
    for target, allowed in ((f"configmap/{CONFIG_MAP}", "yes"), ("configmap/kube-root-ca.crt", "no")):
        answer = kubectl("auth", "can-i", "get", target, "-n", namespace, f"--as={account}")
        assert answer.stdout.strip() == allowed, (target, answer.stdout, answer.stderr)
    assert (
        kubectl(
            "auth", "can-i", "watch", f"configmap/{CONFIG_MAP}", "-n", namespace, f"--as={account}"
        ).stdout.strip()
        == "yes"
    )
    assert (
        kubectl("auth", "can-i", "get", "secret/upstream", "-n", namespace, f"--as={account}").stdout.strip()
        == "no"
    )

    proxy = watching_sidecar(kubectl, namespace, tmp_path, sidecar)
    assert served_by(proxy, "chat") == ("chat", "alpha")
    assert served_by(proxy, "vault") == ("vault", "keyed")

    took = [route_to(kubectl, namespace, "chat", target, proxy) for target in ("beta", "gamma", "beta")]
    report(f"ConfigMap -> sidecar via API watch: {seconds(took)} (kubectl patch -> served)")
    assert max(took) < PROPAGATION_GOAL_SECONDS
    assert serving_version(proxy) == kubectl.config_json(namespace)["version"]
    # The mounted file never changed: everything new came through the watch.
    config_file = tmp_path / "config" / "config.json"
    assert json.loads(config_file.read_text())["version"] != serving_version(proxy)
    assert "ConfigMap watch" not in proxy.log_text()  # never failed (e.g. forbidden), never fell back


def test_deleting_an_endpoint_takes_only_its_routes_out_of_service(
    kubectl: Kubectl, deployed: str, sidecar: Callable[..., Process], tmp_path: Path
) -> None:
    namespace = deployed
    proxy = watching_sidecar(kubectl, namespace, tmp_path, sidecar)
    assert served_by(proxy, "side") == ("side", "beta")

    kubectl("-n", namespace, "delete", "modelendpoint", "beta", check=True)

    def route_state(name: str) -> dict[str, Any] | None:
        return kubectl.find("modelroute", name, namespace=namespace)

    for name, index in (("side", 0), ("both", 1)):
        found = wait_until(
            lambda n=name: (r := route_state(n)) and is_status(r, "Ready", "False", "RefNotFound") and r,
            timeout=10,
            what=f"route {name} Ready=False RefNotFound",
        )
        message = condition(found, "Ready")["message"]
        assert f"spec.targets[{index}].endpoint" in message and "'beta'" in message, message
        assert is_status(found, "ResolvedRefs", "False", "RefNotFound")
    for name in ("chat", "vault"):
        assert is_status(route_state(name), "Ready", "True"), route_state(name)

    wait_until(lambda: is_converged(kubectl, namespace), timeout=10, what="convergence")
    config = kubectl.config_json(namespace)
    assert set(config["routes"]) == {"chat", "vault"} and "beta" not in config["endpoints"]
    warnings = {
        (e["involvedObject"]["name"], e["reason"])
        for e in kubectl.events(namespace)
        if e["type"] == "Warning"
    }
    assert {("side", "RefNotFound"), ("both", "RefNotFound")} <= warnings

    wait_until(
        lambda: serving_version(proxy) == config["version"], timeout=5, what="the sidecar on the new config"
    )
    assert served_by(proxy, "chat") == ("chat", "alpha")
    assert served_by(proxy, "vault") == ("vault", "keyed")
    assert served_by(proxy, "side") == ("chat", "alpha")  # no route of that name any more: the default
