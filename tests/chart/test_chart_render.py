"""`helm lint` is clean and `helm template` (defaults, and every option on) renders manifests that validate:
built-in kinds against Kubernetes 1.33's schemas (kubernetes-validate, strict: unknown fields refused), the
Prometheus Operator and cert-manager objects against those projects' CRDs from their Go modules, Kopf's
peering objects and the test hooks' Switchboard resources against their CRDs. Bad values are refused by
values.schema.json before anything renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from support.charts import CHART, EVERYTHING_ON, Rendered, helm, render, tool_paths
from support.crd_schemas import CrdValidator
from support.processes import REPO_ROOT

pytestmark = pytest.mark.chart

KUBERNETES_VERSION = "1.33"  # tests/cluster/kube-build/go.mod pins k8s.io/kubernetes v1.33.13
CUSTOM_GROUPS = ("monitoring.coreos.com/", "cert-manager.io/", "kopf.dev/", "switchboard.dev/")


@pytest.fixture(scope="module")
def crd_validator() -> CrdValidator:
    paths = tool_paths()
    files = [
        *sorted(paths["PROMETHEUS_OPERATOR_CRDS"].glob("*.yaml")),
        *sorted(paths["CERT_MANAGER_CRDS"].glob("*.yaml")),
        *sorted((CHART / "crds").glob("*.yaml")),
        *sorted((REPO_ROOT / "crds").glob("*.yaml")),
    ]
    return CrdValidator.from_files(files)


VARIANTS = {
    "defaults": [],
    "everything-on": [EVERYTHING_ON],
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(*VARIANTS[request.param])


def test_helm_lint_is_clean_and_strict() -> None:
    for values in ([], [f"--values={EVERYTHING_ON}"]):
        output = helm("lint", "--strict", str(CHART), *values)
        assert "0 chart(s) failed" in output
        assert not [line for line in output.splitlines() if line.startswith("[")], output


def test_built_in_kinds_validate_against_kubernetes_1_33(rendered: Rendered) -> None:
    checked = 0
    for document in rendered.documents:
        if document["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 12


def test_custom_resources_validate_against_their_crds(
    rendered: Rendered, crd_validator: CrdValidator
) -> None:
    custom = [d for d in rendered.documents if d["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert custom
    problems = {
        f"{d['kind']}/{d['metadata']['name']}": errors
        for d in custom
        if (errors := crd_validator.errors(d) if crd_validator.knows(d) else ["no CRD for it"])
    }
    assert not problems


def test_everything_on_renders_every_optional_kind() -> None:
    kinds = {d["kind"] for d in render(EVERYTHING_ON).documents}
    assert {"PodMonitor", "ServiceMonitor", "PrometheusRule", "Certificate", "Issuer", "KopfPeering"} <= kinds
    assert {"PodDisruptionBudget", "Role", "RoleBinding", "MutatingWebhookConfiguration"} <= kinds


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param(("spec", "replicas"), "two", id="built-in-wrong-type"),
        pytest.param(("spec", "template", "spec", "containerz"), [], id="built-in-unknown-field"),
    ],
)
def test_the_kubernetes_validation_would_catch_a_mistake(field: tuple[str, ...], value: Any) -> None:
    deployment = json.loads(json.dumps(render().one("Deployment")))
    node = deployment
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_crd_validation_would_catch_a_mistake(crd_validator: CrdValidator) -> None:
    monitor = json.loads(json.dumps(render(EVERYTHING_ON).one("PodMonitor")))
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    monitor["spec"]["selector"]["matchLabels"] = "switchboard"
    errors = crd_validator.errors(monitor)
    assert any("intervall" in e for e in errors) and any("matchLabels" in e for e in errors), errors


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"operator.replicas": "two"}, "/operator/replicas", id="replicas-not-a-number"),
        pytest.param({"webhook.failurePolicy": "Sometimes"}, "/webhook/failurePolicy", id="failure-policy"),
        pytest.param({"webhook.certificates.source": "vault"}, "/webhook/certificates/source", id="source"),
        pytest.param(
            {"monitoring.podMonitor.interval": "often"}, "/monitoring/podMonitor/interval", id="dur"
        ),
        pytest.param({"operatr.replicas": "1"}, "operatr", id="misspelt-key"),
    ],
)
def test_bad_values_are_refused_by_the_schema(values: dict[str, str], message: str) -> None:
    arguments = ["template", "x", str(CHART)] + [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    output = helm(*arguments, check=False)
    assert "values don't meet the specifications of the schema" in output and message in output, output


def test_values_yaml_itself_meets_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))
    jsonschema.Draft7Validator(schema).validate(
        _merged(
            yaml.safe_load((CHART / "values.yaml").read_text()), yaml.safe_load(EVERYTHING_ON.read_text())
        )
    )


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = value
    return result


def test_every_value_is_documented_in_values_yaml() -> None:
    """Each top-level section and each key under it has a comment on or above its line."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped or line.startswith("    "):
            continue
        key = stripped.split(":")[0]
        above = lines[index - 1].strip() if index else ""
        is_section = not line.startswith(" ") and stripped.endswith(":")
        documented = "#" in line or above.startswith("#") or is_section
        if not documented and not _is_self_explanatory(key):
            undocumented.append(f"{index + 1}: {line}")
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)


def _is_self_explanatory(key: str) -> bool:
    return key in {
        "repository", "pullPolicy", "imagePullSecrets", "nameOverride", "fullnameOverride", "create",
        "annotations", "labels", "interval", "enabled", "podAnnotations", "podLabels", "nodeSelector",
        "tolerations", "priorityClassName", "resources", "securityContext", "image", "name",
    }  # fmt: skip


def test_the_chart_s_files_are_what_the_templates_read() -> None:
    assert sorted(p.name for p in (CHART / "files" / "tests").glob("*.py")) == [
        "check_injection.py",
        "check_reconcile.py",
        "kube_api.py",
    ]
    assert json.loads((CHART / "files" / "dashboard.json").read_text())["uid"] == "switchboard"
    assert not list(Path(CHART / "templates").glob("*.json"))
