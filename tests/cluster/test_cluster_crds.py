"""The CRDs in a real API server, through kubectl: install, examples, printer columns, explain, short names,
the `switchboard` category, and every schema or CEL rule refusing what it should, naming the field.

The invalid files are the ones `tests/unit/config/test_crds_agree.py` runs through jsonschema and the
pydantic models; here the API server itself refuses them, including the CEL rules only it evaluates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from kubectl_cli import Kubectl

from support.processes import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120, func_only=True)]

EXAMPLES = REPO_ROOT / "examples"
INVALID = REPO_ROOT / "tests" / "testdata" / "resources" / "invalid"
# Printer columns `kubectl get` shows by default, and the extra ones of `-o wide` (priority 1).
COLUMNS = {
    "mr": (
        [
            *("NAME", "TASKS", "PRIORITY", "STRATEGY", "POLICY", "READY"),
            *("VERDICT", "STOPPED", "SIDECARS", "AGE"),
        ],
        ["LAGGING", "EXPERIMENT", "CONFIG"],
    ),
    "fbp": (["NAME", "CHAIN", "DEGRADED", "READY", "AGE"], []),
    "me": (["NAME", "PROVIDER", "MODEL", "READY", "MIGRATION", "DEPRECATED", "AGE"], ["SUNSET", "URL"]),
}
KINDS = {"mr": "modelroute", "fbp": "fallbackpolicy", "me": "modelendpoint"}


def example_objects() -> set[str]:
    """`kind/name` of every document in examples/ (as `kubectl get -o name` prints them, lower case)."""
    found = set()
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            group = document["apiVersion"].rpartition("/")[0]
            kind = document["kind"].lower() + (f".{group}" if group else "")
            found.add(f"{kind}/{document['metadata']['name']}")
    return found


def header(table: str) -> list[str]:
    return table.splitlines()[0].split()


def test_crds_install_and_the_examples_are_served_with_useful_columns(
    kubectl: Kubectl, crds: list[str], namespace: str
) -> None:
    again = kubectl("apply", "-f", str(REPO_ROOT / "crds"), check=True)  # idempotent on a second apply
    assert sorted(
        re.findall(r"customresourcedefinition\.apiextensions\.k8s\.io/(\S+)", again.stdout)
    ) == sorted(crds)
    for crd in kubectl.get_json("crd", *crds)["items"]:
        status = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert status["Established"] == status["NamesAccepted"] == "True", crd["metadata"]["name"]

    applied = kubectl("-n", namespace, "apply", "-f", str(EXAMPLES), check=True)
    expected = example_objects()
    assert len(expected) == 22  # 9 endpoints, 5 policies, 6 routes, 2 Secrets
    assert {line.split()[0] for line in applied.stdout.splitlines()} == expected
    assert all(line.endswith(" created") for line in applied.stdout.splitlines()), applied.stdout

    # Short names, the `switchboard` category, and the printer columns (Ready among them).
    switchboard = set(kubectl("-n", namespace, "get", "switchboard", "-o", "name", check=True).stdout.split())
    assert switchboard == {o for o in expected if ".switchboard.dev/" in o}
    for short, (columns, wide) in COLUMNS.items():
        table = kubectl("-n", namespace, "get", short, check=True).stdout
        assert header(table) == columns, table
        names = {line.split()[0] for line in table.splitlines()[1:]}
        assert names == {o.split("/")[1] for o in expected if o.startswith(f"{KINDS[short]}.")}
        wide_table = kubectl("-n", namespace, "get", short, "-o", "wide", check=True).stdout
        assert set(wide) <= set(header(wide_table)), wide_table
    combined = kubectl("-n", namespace, "get", "mr,fbp,me", check=True).stdout
    assert combined.count("READY") == 3, combined


def explained_fields(text: str) -> dict[str, str]:
    """field -> the first line of its description, from `kubectl explain` output."""
    fields: dict[str, str] = {}
    lines = text.split("FIELDS:", 1)[-1].splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^  (\S+)\t<", line)
        if match:  # its description is indented by four, after an optional `enum: ...` line
            block = [*lines[index + 1 :], ""]
            entry = block[: block.index("")]
            fields[match[1]] = next((x.strip() for x in entry if x.startswith("    ")), "")
    return fields


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        pytest.param("modelroute.spec.targets", {"endpoint", "weight"}, id="route-targets"),
        pytest.param("modelroute.spec", {"targets", "fallbackPolicy", "match", "strategy"}, id="route"),
        pytest.param("modelendpoint.spec", {"provider", "url", "model", "apiKey", "pricing"}, id="endpoint"),
        pytest.param(
            "fallbackpolicy.spec", {"chain", "triggers", "timeouts", "retries", "degraded"}, id="policy"
        ),
        pytest.param("fallbackpolicy.spec.timeouts", {"connectMs", "firstTokenMs", "totalMs"}, id="timeouts"),
    ],
)
def test_kubectl_explain_documents_every_field(
    kubectl: Kubectl, crds: list[str], path: str, fields: set[str]
) -> None:
    text = kubectl("explain", path, check=True).stdout
    described = explained_fields(text)
    assert fields <= set(described), text
    assert all(described.values()), f"fields without a description in `kubectl explain {path}`:\n{text}"
    assert "DESCRIPTION:" in text and text.split("DESCRIPTION:", 1)[1].strip(), text


# --- Refused by the API server -------------------------------------------------------------------------
#
# Each file's header names the field the layer that refuses it reports (`# expect: Kind/name path: msg`).
# How that maps onto what kubectl prints:
# - schema: the API server names the same path, with the same `[i]` index notation as ConfigProblem
#   (`spec.capabilities[1]: Unsupported value`), so no normalisation is needed; an unknown field comes
#   back as strict decoding's `unknown field "spec.targets[0].endpont"`;
# - cel: a rule with a fieldPath is reported at that field, which may lie below the path the models
#   report (the header's `spec.retries` is kubectl's `spec.retries.backoffMs`; `spec` is
#   `spec.apiVersion`), so a reported path equal to the expected one or below it matches; the rule's
#   message is the same text in both layers and must appear too;
# - the bare `on:` key (refused-by: load) is YAML 1.1's boolean `true` for kubectl as well: the API
#   server's strict field validation refuses `unknown field "spec.true"`.
REPORTED_PATH = re.compile(r"(?:^|\* |: )((?:spec|metadata)(?:\.[A-Za-z0-9_]+|\[\d+\])*): ", re.MULTILINE)
UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')


def read_expectation(path: Path) -> tuple[str, str, str, str]:
    """(layer, Kind/name, field path, message) from the file's two header lines."""
    header_lines = dict(
        line[2:].split(": ", 1) for line in path.read_text().splitlines()[:2] if line.startswith("# ")
    )
    resource, _, rest = header_lines["expect"].partition(" ")
    field_path, _, message = rest.partition(": ")
    return header_lines["refused-by"], resource, field_path, message


def refused_cases() -> list[object]:
    cases: list[object] = []
    for path in sorted(INVALID.glob("*.yaml")):
        layer, resource, field_path, message = read_expectation(path)
        if layer in ("schema", "cel"):
            # A schema message is the wording of whichever validator refused it (jsonschema's "is greater
            # than the maximum of 1", the API server's "should be less than or equal to 1"): only the
            # path is common to both. A CEL rule's message is ours, the same text in both layers.
            shared = message if layer == "cel" else ""
            cases.append(pytest.param(path, resource, field_path, shared, id=f"{layer}-{path.stem}"))
    bare_on = INVALID / "policy-bare-on-key.yaml"
    assert read_expectation(bare_on)[0] == "load"
    cases.append(pytest.param(bare_on, "FallbackPolicy/pol", "spec.true", "unknown field", id="load-bare-on"))
    return cases


def reported_paths(stderr: str) -> set[str]:
    return set(REPORTED_PATH.findall(stderr)) | set(UNKNOWN_FIELD.findall(stderr))


def test_the_table_covers_schema_and_cel() -> None:
    layers = [case.id.split("-")[0] for case in refused_cases()]  # type: ignore[attr-defined]
    assert layers.count("schema") >= 10 and layers.count("cel") >= 5


@pytest.mark.parametrize(("path", "resource", "field_path", "message"), refused_cases())
def test_the_api_server_refuses_invalid_resources_naming_the_field(
    kubectl: Kubectl, namespace: str, path: Path, resource: str, field_path: str, message: str
) -> None:
    result = kubectl("-n", namespace, "apply", "-f", str(path))
    assert result.returncode != 0, f"accepted:\n{result.stdout}"
    found = reported_paths(result.stderr)
    assert any(p == field_path or p.startswith((f"{field_path}.", f"{field_path}[")) for p in found), (
        f"expected {field_path} in kubectl's message, found {sorted(found)}:\n{result.stderr}"
    )
    assert message in result.stderr, result.stderr
    kind, _, name = resource.partition("/")
    assert kubectl.find(kind.lower(), name, namespace=namespace) is None
