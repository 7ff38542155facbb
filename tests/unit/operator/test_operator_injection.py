"""inject_sidecar: a native sidecar, volumes, base URLs, restricted security; idempotent."""

from __future__ import annotations

import copy
from typing import Any

from switchboard_operator.injection import (
    INJECTED_ANNOTATION,
    SIDECAR_NAME,
    InjectionSettings,
    inject_sidecar,
    is_injected,
    wants_injection,
)

SETTINGS = InjectionSettings(image="registry.local/switchboard:test")


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
    assert first["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--watch-configmap" in first["args"] and "$(POD_NAMESPACE)/switchboard-config" in first["args"]


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


def test_app_containers_get_base_urls_unless_they_set_their_own() -> None:
    custom = {"name": "OPENAI_BASE_URL", "value": "http://elsewhere/v1"}
    injected = inject_sidecar(
        pod(containers=[{"name": "a", "image": "a"}, {"name": "b", "image": "b", "env": [custom]}]), SETTINGS
    )
    env_a = {e["name"]: e["value"] for e in injected["spec"]["containers"][0]["env"]}
    env_b = {e["name"]: e["value"] for e in injected["spec"]["containers"][1]["env"]}
    assert env_a == {
        "OPENAI_BASE_URL": "http://127.0.0.1:8787/v1",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8787",
    }
    assert env_b["OPENAI_BASE_URL"] == "http://elsewhere/v1"


def test_injection_is_idempotent_and_does_not_touch_its_input() -> None:
    original = pod()
    before = copy.deepcopy(original)
    once = inject_sidecar(original, SETTINGS)
    assert original == before
    assert is_injected(once) and once["metadata"]["annotations"][INJECTED_ANNOTATION] == "true"
    assert inject_sidecar(once, SETTINGS) == once


def test_only_labelled_pods_want_injection() -> None:
    assert wants_injection(pod())
    unlabelled = pod()
    unlabelled["metadata"]["labels"] = {}
    assert not wants_injection(unlabelled)
