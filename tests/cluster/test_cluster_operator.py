"""switchboard-operator against a real API server: what it writes (ConfigMap, credentials Secret, status,
Events), how it follows changes (Secrets rotated and deleted, sunsets passing), what the garbage collector
removes, and that key material never leaves the credentials Secret.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cluster_resources import keyed_endpoint, secret, two_routes
from kubectl_cli import CONFIG_MAP, CREDENTIALS_SECRET, Kubectl, condition, is_converged, is_status
from operator_process import Operator

from support.processes import REPO_ROOT, Process, console_script
from support.stack import endpoint, route
from support.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120, func_only=True)]

EXAMPLES = REPO_ROOT / "examples"
CONVERGE_SECONDS = 30
OWNED = [("configmap", CONFIG_MAP), ("secret", CREDENTIALS_SECRET)] + [
    (kind, "switchboard-config-reader") for kind in ("role", "rolebinding")
]


def by_name(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def compile_examples(namespace: str) -> dict[str, Any]:
    """What `switchboard compile examples/ --namespace NS` prints."""
    argv = [console_script("switchboard"), "compile", str(EXAMPLES), "--namespace", namespace]
    compiled: dict[str, Any] = json.loads(
        subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    )
    return compiled


def test_the_examples_compile_into_the_namespace_config_with_status_and_events(
    kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], report: Callable[[str], None]
) -> None:
    kubectl("-n", namespace, "apply", "-f", str(EXAMPLES), check=True)
    started = time.monotonic()
    operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=CONVERGE_SECONDS, what="convergence")
    report(f"examples/ (20 objects): operator start -> converged in {time.monotonic() - started:.1f}s")

    config = kubectl.config_json(namespace)
    assert config == compile_examples(namespace)

    # Keys go to the credentials Secret, one per endpoint with a secretRef; the ConfigMap names them only.
    keyed = {"frontier", "claude-sonnet", "claude-haiku"}
    assert kubectl.secret_values(CREDENTIALS_SECRET, namespace=namespace) == dict.fromkeys(
        keyed, "replace-me"
    )
    config_map = json.dumps(kubectl.find("configmap", CONFIG_MAP, namespace=namespace))
    assert "replace-me" not in config_map and base64.b64encode(b"replace-me").decode() not in config_map
    assert {n for n, e in config["endpoints"].items() if e["api_key"]["source"] != "none"} == keyed
    assert all(config["endpoints"][n]["api_key"] == {"source": "file", "name": n} for n in keyed)

    objects = kubectl.switchboard_objects(namespace)
    assert len(objects) == 20
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}: {obj.get('status')}"
        assert all(is_status(obj, kind, "True") for kind in ("Accepted", "ResolvedRefs", "Ready")), where
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"], where
    endpoints = by_name(objects, "ModelEndpoint")
    assert is_status(endpoints["small-fast"], "Deprecated", "True", "Deprecated")
    assert "small-fast-v2" in condition(endpoints["small-fast"], "Deprecated")["message"]
    assert all(is_status(e, "Deprecated", "False") for n, e in endpoints.items() if n != "small-fast")
    assert by_name(objects, "ModelRoute")["chat"]["status"]["endpoints"] == ["capable", "cheap", "frontier"]

    # One Ready Event per object (its first transition), and the deprecation as a Warning.
    events = kubectl.events(namespace)
    ready = [
        (e["involvedObject"]["kind"], e["involvedObject"]["name"]) for e in events if e["reason"] == "Ready"
    ]
    assert sorted(ready) == sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert all(e["type"] == "Normal" for e in events if e["reason"] == "Ready")
    warnings = [(e["involvedObject"]["name"], e["reason"]) for e in events if e["type"] == "Warning"]
    assert warnings == [("small-fast", "Deprecated")]

    table = kubectl("-n", namespace, "get", "mr", check=True).stdout.splitlines()
    ready_at = table[0].index("READY")  # columns are aligned; an empty one (no policy) has no word
    assert {line[ready_at:].split()[0] for line in table[1:]} == {"True"}, table


def test_a_rotated_key_is_copied_within_seconds_and_a_deleted_secret_is_reported(
    kubectl: Kubectl,
    namespace: str,
    operator: Callable[..., Operator],
    sim: Process,
    report: Callable[[str], None],
) -> None:
    kubectl.apply(
        [
            secret("upstream", {"api-key": "first-key"}),
            keyed_endpoint("keyed", sim.base_url, secret_name="upstream"),
            endpoint("alpha", sim.base_url),
            route("chat", ["keyed"], default=True),
            route("side", ["alpha"]),
        ],
        namespace=namespace,
    )
    operator(namespace)

    def credentials() -> dict[str, str] | None:
        return kubectl.secret_values(CREDENTIALS_SECRET, namespace=namespace)

    wait_until(lambda: credentials() == {"keyed": "first-key"}, timeout=CONVERGE_SECONDS, what="credentials")
    wait_until(lambda: is_converged(kubectl, namespace), timeout=CONVERGE_SECONDS, what="convergence")
    config_map_version = kubectl.find("configmap", CONFIG_MAP, namespace=namespace)["metadata"][
        "resourceVersion"
    ]

    started = time.monotonic()
    kubectl.patch("secret", "upstream", {"stringData": {"api-key": "second-key"}}, namespace=namespace)
    wait_until(
        lambda: credentials() == {"keyed": "second-key"}, timeout=10, what="the rotated key", interval=0.05
    )
    took = time.monotonic() - started
    report(f"Secret rotation -> switchboard-credentials: {took:.2f}s")
    assert took < 5
    # The config names keys, it does not hold them: a rotation leaves the ConfigMap alone.
    assert kubectl.find("configmap", CONFIG_MAP, namespace=namespace)["metadata"]["resourceVersion"] == (
        config_map_version
    )

    kubectl("-n", namespace, "delete", "secret", "upstream", check=True)

    def keyed_endpoint_state() -> dict[str, Any] | None:
        return kubectl.find("modelendpoint", "keyed", namespace=namespace)

    found = wait_until(
        lambda: (
            (e := keyed_endpoint_state()) and is_status(e, "ResolvedRefs", "False", "SecretNotFound") and e
        ),
        timeout=10,
        what="ResolvedRefs=False SecretNotFound",
    )
    assert "spec.apiKey.secretRef.name" in condition(found, "ResolvedRefs")["message"]
    assert is_status(found, "Ready", "False", "SecretNotFound")
    wait_until(lambda: credentials() == {}, timeout=10, what="the key removed from switchboard-credentials")
    chat = kubectl.find("modelroute", "chat", namespace=namespace)
    assert chat is not None and is_status(chat, "Ready", "False"), chat
    side = kubectl.find("modelroute", "side", namespace=namespace)
    assert side is not None and is_status(side, "Ready", "True"), side

    # The Secret coming back is noticed as well (the operator still watches the name).
    kubectl.apply([secret("upstream", {"api-key": "third-key"})], namespace=namespace)
    wait_until(lambda: credentials() == {"keyed": "third-key"}, timeout=10, what="the recreated Secret")
    wait_until(
        lambda: is_status(keyed_endpoint_state(), "Ready", "True"),
        timeout=10,
        what="the endpoint Ready again",
    )


def test_deleting_the_last_route_lets_the_garbage_collector_remove_what_the_operator_wrote(
    kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], sim: Process
) -> None:
    kubectl.apply(two_routes(sim.base_url), namespace=namespace)
    operator(namespace)
    wait_until(lambda: is_converged(kubectl, namespace), timeout=CONVERGE_SECONDS, what="convergence")
    routes = by_name(kubectl.switchboard_objects(namespace), "ModelRoute")

    def owners(kind: str, name: str) -> set[str]:
        obj = kubectl.find(kind, name, namespace=namespace)
        return {o["uid"] for o in (obj or {}).get("metadata", {}).get("ownerReferences", [])}

    assert all(owners(kind, name) == {r["metadata"]["uid"] for r in routes.values()} for kind, name in OWNED)

    kubectl("-n", namespace, "delete", "modelroute", "side", check=True)
    chat_only = {routes["chat"]["metadata"]["uid"]}
    wait_until(
        lambda: all(owners(kind, name) == chat_only for kind, name in OWNED),
        timeout=10,
        what="owners: chat only",
    )
    assert set(kubectl.config_json(namespace)["routes"]) == {"chat"}

    kubectl("-n", namespace, "delete", "modelroute", "chat", check=True)
    wait_until(
        lambda: all(kubectl.find(kind, name, namespace=namespace) is None for kind, name in OWNED),
        timeout=30,
        what="ConfigMap, Secret, Role and RoleBinding collected",
        interval=0.5,
    )
    assert kubectl.find("modelendpoint", "alpha", namespace=namespace) is not None  # only what we wrote goes


def test_key_material_appears_only_in_the_credentials_secret(
    kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], sim: Process
) -> None:
    first, second = (f"sk-leak-{uuid.uuid4().hex}" for _ in range(2))
    kubectl(
        "-n", namespace, "create", "secret", "generic", "vault", f"--from-literal=api-key={first}", check=True
    )
    kubectl.apply(
        [
            keyed_endpoint("keyed", sim.base_url, secret_name="vault"),
            keyed_endpoint("wrong-key", sim.base_url, secret_name="vault", key="nope"),  # SecretKeyNotFound
            keyed_endpoint("no-secret", sim.base_url, secret_name="absent"),  # SecretNotFound
            route("chat", ["keyed"], default=True),
            route("broken", ["wrong-key"]),
        ],
        namespace=namespace,
    )
    # Debug logging is the most the operator (and Kopf) ever says.
    running = operator(namespace, "--log-level", "debug")

    def credentials() -> dict[str, str] | None:
        return kubectl.secret_values(CREDENTIALS_SECRET, namespace=namespace)

    wait_until(lambda: credentials() == {"keyed": first}, timeout=CONVERGE_SECONDS, what="credentials")
    kubectl.patch("secret", "vault", {"stringData": {"api-key": second}}, namespace=namespace)
    wait_until(lambda: credentials() == {"keyed": second}, timeout=10, what="the rotated key")
    wait_until(lambda: is_converged(kubectl, namespace), timeout=CONVERGE_SECONDS, what="convergence")
    objects = kubectl.switchboard_objects(namespace)
    assert is_status(
        by_name(objects, "ModelEndpoint")["wrong-key"], "ResolvedRefs", "False", "SecretKeyNotFound"
    )
    assert is_status(
        by_name(objects, "ModelEndpoint")["no-secret"], "ResolvedRefs", "False", "SecretNotFound"
    )

    places = {
        "the ConfigMap": json.dumps(kubectl.find("configmap", CONFIG_MAP, namespace=namespace)),
        "the Switchboard objects": json.dumps(objects),
        "the Events": json.dumps(kubectl.events(namespace)),
        "the operator's log": running.log_text(),
    }
    assert "Handler" in places["the operator's log"]  # the log is there to be searched
    for key in (first, second):
        for form in (key, base64.b64encode(key.encode()).decode()):
            leaks = [where for where, text in places.items() if form in text]
            assert not leaks, f"key material ({form[:12]}...) found in {leaks}"


def test_traffic_moves_to_the_replacement_when_the_sunset_passes(
    kubectl: Kubectl,
    namespace: str,
    operator: Callable[..., Operator],
    sim: Process,
    report: Callable[[str], None],
) -> None:
    sunset = (datetime.now(UTC) + timedelta(seconds=10)).replace(microsecond=0)
    deprecation = {"sunset": sunset.strftime("%Y-%m-%dT%H:%M:%SZ"), "replacement": "beta"}
    kubectl.apply(
        [
            endpoint("alpha", sim.base_url, deprecation=deprecation),
            endpoint("beta", sim.base_url),
            route("chat", ["alpha"], default=True),
        ],
        namespace=namespace,
    )
    operator(namespace, "--sunset-check-seconds", "1")
    wait_until(lambda: is_converged(kubectl, namespace), timeout=CONVERGE_SECONDS, what="convergence")

    def chat_targets() -> list[str]:
        config = kubectl.config_json(namespace) or {"routes": {}}
        return [t["endpoint"] for t in config["routes"]["chat"]["variants"][0]["targets"]]

    def served() -> list[str]:
        chat = kubectl.find("modelroute", "chat", namespace=namespace) or {}
        endpoints: list[str] = (chat.get("status") or {}).get("endpoints", [])
        return endpoints

    assert datetime.now(UTC) < sunset, "the setup took longer than the sunset's lead time"
    assert served() == ["alpha"] and chat_targets() == ["alpha"]
    alpha = kubectl.find("modelendpoint", "alpha", namespace=namespace)
    assert is_status(alpha, "Deprecated", "True", "Deprecated")

    wait_until(lambda: served() == ["beta"], timeout=(sunset - datetime.now(UTC)).total_seconds() + 15)
    report(f"sunset -> route status on the replacement: {(datetime.now(UTC) - sunset).total_seconds():.1f}s")
    assert chat_targets() == ["beta"]
    wait_until(
        lambda: is_status(
            kubectl.find("modelendpoint", "alpha", namespace=namespace), "Deprecated", "True", "PastSunset"
        ),
        timeout=5,
        what="Deprecated reason PastSunset",
    )
    assert is_converged(kubectl, namespace)
    notes = [(e["involvedObject"]["name"], e["type"], e["reason"]) for e in kubectl.events(namespace)]
    assert ("alpha", "Warning", "PastSunset") in notes and ("alpha", "Warning", "Deprecated") in notes


def test_a_stored_policy_that_still_says_on_is_not_accepted(
    kubectl: Kubectl, namespace: str, operator: Callable[..., Operator], sim: Process
) -> None:
    """A FallbackPolicy stored before the rename (here: under a CRD without the rule that refuses `on`)
    is reported Accepted=False naming `triggers`, and its route does not silently widen to the default
    triggers: it is not served until the policy is fixed."""
    crd_name = "fallbackpolicies.switchboard.dev"
    crd = kubectl.get_json("crd", crd_name)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    before = json.loads(json.dumps(crd))
    schema["x-kubernetes-validations"] = [
        rule for rule in schema["x-kubernetes-validations"] if rule["rule"] != "!has(self.on)"
    ]
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        crd["metadata"].pop(key, None)
    crd.pop("status", None)
    kubectl("replace", "-f", "-", input=json.dumps(crd), check=True)
    try:
        old = {"apiVersion": "switchboard.dev/v1alpha1", "kind": "FallbackPolicy"}
        old |= {"metadata": {"name": "old"}, "spec": {"on": ["timeout"]}}
        wait_until(
            lambda: kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(old)).returncode == 0,
            timeout=10,
            what="the old CRD to take the policy",
        )
    finally:
        kubectl("apply", "-f", str(REPO_ROOT / "crds" / "fallbackpolicies.yaml"), check=True)
    rules = kubectl.get_json("crd", crd_name)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert rules == before["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    kubectl.apply(
        [endpoint("alpha", sim.base_url), route("chat", ["alpha"], default=True, fallbackPolicy="old")],
        namespace=namespace,
    )
    operator(namespace)

    def refused() -> dict[str, Any] | None:
        policy = kubectl.find("fallbackpolicy", "old", namespace=namespace)
        return policy if is_status(policy, "Accepted", "False") else None

    policy = wait_until(refused, timeout=CONVERGE_SECONDS, what="Accepted=False on the old policy")
    assert "renamed to `triggers`" in condition(policy, "Accepted")["message"]
    chat = wait_until(
        lambda: kubectl.find("modelroute", "chat", namespace=namespace),
        timeout=CONVERGE_SECONDS,
        what="the route",
    )
    wait_until(
        lambda: is_status(kubectl.find("modelroute", "chat", namespace=namespace), "Ready", "False"),
        timeout=CONVERGE_SECONDS,
        what="the route that uses it not Ready",
    )
    assert chat is not None
    config = kubectl.config_json(namespace) or {"routes": {}}
    assert "chat" not in config["routes"]
