"""inject_sidecar: a native sidecar with an admin port for its probes, volumes, base URLs and placeholder
keys, restricted security; idempotent."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest

from switchboard_operator.injection import (
    ADMIN_PORT_NAME,
    DEFAULT_IMAGE,
    IMAGE_ANNOTATION,
    INJECTED_ANNOTATION,
    PLACEHOLDER_KEY,
    SIDECAR_NAME,
    InjectionSettings,
    inject_sidecar,
    is_injected,
    wants_injection,
)

SETTINGS = InjectionSettings(image="registry.local/switchboard:test")
REPO = Path(__file__).resolve().parents[3]
INJECTED_ENV = {
    "OPENAI_BASE_URL": "http://127.0.0.1:8787/v1",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8787",
    "OPENAI_API_KEY": PLACEHOLDER_KEY,
    "ANTHROPIC_API_KEY": PLACEHOLDER_KEY,
}


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "editor", "labels": {"switchboard.dev/inject": "true"}},
        "spec": {"containers": [{"name": "app", "image": "editor:1"}], **spec},
    }


def test_adds_a_native_sidecar_first() -> None:
    injected = inject_sidecar(pod(initContainers=[{"name": "migrate", "image": "m"}]), SETTINGS)
    first, second = injected["spec"]["initContainers"]
    assert (first["name"], first["restartPolicy"], first["image"]) == (SIDECAR_NAME, "Always", SETTINGS.image)
    assert second["name"] == "migrate"
    assert "--watch-configmap" in first["args"] and "$(POD_NAMESPACE)/switchboard-config" in first["args"]
    assert first["command"] == ["switchboard-proxy"]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_model_api_stays_on_loopback_and_the_probes_use_the_admin_port() -> None:
    sidecar = inject_sidecar(pod(), SETTINGS)["spec"]["initContainers"][0]
    args = sidecar["args"]
    assert (flag(args, "--host"), flag(args, "--port")) == ("127.0.0.1", "8787")
    assert (flag(args, "--admin-host"), flag(args, "--admin-port")) == ("0.0.0.0", "8788")
    assert sidecar["ports"] == [{"name": ADMIN_PORT_NAME, "containerPort": 8788, "protocol": "TCP"}]
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": ADMIN_PORT_NAME}
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": ADMIN_PORT_NAME}
    assert sidecar["startupProbe"]["httpGet"] == {"path": "/healthz", "port": ADMIN_PORT_NAME}


def test_image_and_pull_policy_come_from_the_settings() -> None:
    sidecar = inject_sidecar(pod(), InjectionSettings(image="r/s:1", image_pull_policy="Never"))
    first = sidecar["spec"]["initContainers"][0]
    assert (first["image"], first["imagePullPolicy"]) == ("r/s:1", "Never")
    default = inject_sidecar(pod(), InjectionSettings())["spec"]["initContainers"][0]
    assert (default["image"], default["imagePullPolicy"]) == (DEFAULT_IMAGE, "IfNotPresent")


def test_default_image_is_the_one_make_image_builds() -> None:
    names = subprocess.run(
        [str(REPO / "tests" / "cluster" / "images.sh"), "names"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert names[0] == DEFAULT_IMAGE


def test_security_context_is_restricted() -> None:
    context = inject_sidecar(pod(), SETTINGS)["spec"]["initContainers"][0]["securityContext"]
    assert (
        context["runAsNonRoot"]
        and not context["allowPrivilegeEscalation"]
        and context["readOnlyRootFilesystem"]
    )
    assert (
        context["capabilities"] == {"drop": ["ALL"]} and context["seccompProfile"]["type"] == "RuntimeDefault"
    )


def test_mounts_config_and_credentials_read_only() -> None:
    injected = inject_sidecar(pod(volumes=[{"name": "data", "emptyDir": {}}]), SETTINGS)
    volumes = {v["name"]: v for v in injected["spec"]["volumes"]}
    assert volumes["switchboard-config"]["configMap"]["name"] == "switchboard-config"
    assert volumes["switchboard-credentials"]["secret"]["secretName"] == "switchboard-credentials"
    assert "data" in volumes
    mounts = injected["spec"]["initContainers"][0]["volumeMounts"]
    assert all(m["readOnly"] for m in mounts)


def test_app_containers_get_base_urls_and_placeholder_keys() -> None:
    injected = inject_sidecar(
        pod(containers=[{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]), SETTINGS
    )
    for container in injected["spec"]["containers"]:
        assert {e["name"]: e["value"] for e in container["env"]} == INJECTED_ENV


@pytest.mark.parametrize(
    "own",
    [
        pytest.param({"name": "OPENAI_BASE_URL", "value": "http://elsewhere/v1"}, id="base-url"),
        pytest.param({"name": "OPENAI_API_KEY", "value": "sk-its-own"}, id="openai-key"),
        pytest.param(
            {"name": "ANTHROPIC_API_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            id="anthropic-key-from-a-secret",
        ),
    ],
)
def test_what_an_app_container_sets_itself_is_kept(own: dict[str, Any]) -> None:
    injected = inject_sidecar(pod(containers=[{"name": "a", "image": "a", "env": [own]}]), SETTINGS)
    env = injected["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == own["name"]] == [own]
    assert {e["name"] for e in env} == set(INJECTED_ENV)


def test_injection_is_idempotent_and_does_not_touch_its_input() -> None:
    original = pod()
    before = copy.deepcopy(original)
    once = inject_sidecar(original, SETTINGS)
    assert original == before
    assert is_injected(once) and once["metadata"]["annotations"][INJECTED_ANNOTATION] == "true"
    assert inject_sidecar(once, SETTINGS) == once


def test_the_pod_says_which_sidecar_image_it_got() -> None:
    """After an upgrade, pods injected before it keep their sidecar; this annotation finds them."""
    injected = inject_sidecar(pod(), SETTINGS)
    assert injected["metadata"]["annotations"][IMAGE_ANNOTATION] == "registry.local/switchboard:test"


def test_only_labelled_pods_want_injection() -> None:
    assert wants_injection(pod())
    unlabelled = pod()
    unlabelled["metadata"]["labels"] = {}
    assert not wants_injection(unlabelled)
