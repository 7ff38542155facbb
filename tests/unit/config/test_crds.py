"""crds/*.yaml are the CRDs rendered from the models, structural and documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from switchboard_proxy.cli.commands import render_crd_yaml
from switchboard_proxy.cli.crds import crd_file_name, openapi_schema, render_crd
from switchboard_proxy.config import KINDS

REPO = Path(__file__).resolve().parents[3]
CRD_KINDS = sorted(KINDS)


@pytest.mark.parametrize("kind", CRD_KINDS)
def test_committed_crd_is_up_to_date(kind: str) -> None:
    committed = (REPO / "crds" / crd_file_name(kind)).read_text()
    assert committed == render_crd_yaml(render_crd(kind)), "crds/ is stale: run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found += _walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += _walk(node["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("kind", CRD_KINDS)
def test_every_spec_field_is_described_typed_and_structural(kind: str) -> None:
    spec = openapi_schema(render_crd(kind))["properties"]["spec"]
    for path, node in _walk(spec, "spec"):
        assert "$ref" not in node and "anyOf" not in node and "allOf" not in node, path
        assert "type" in node, f"{path} has no type (not structural)"
        assert "additionalProperties" not in node or "properties" not in node, path
        if not path.endswith("[]"):
            assert node.get("description"), f"{path} has no description"


@pytest.mark.parametrize("kind", CRD_KINDS)
def test_names_columns_and_status(kind: str) -> None:
    crd = render_crd(kind)
    names = crd["spec"]["names"]
    assert names["shortNames"] == [{"ModelEndpoint": "me", "ModelRoute": "mr", "FallbackPolicy": "fbp"}[kind]]
    assert names["categories"] == ["switchboard"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert "Ready" in columns and columns[-1] == "Age"
    status = openapi_schema(crd)["properties"]["status"]["properties"]
    assert {"conditions", "observedGeneration"} <= set(status)
    condition = status["conditions"]["items"]
    assert set(condition["required"]) == {"type", "status", "lastTransitionTime", "reason", "message"}


def test_lists_used_in_cel_rules_are_bounded() -> None:
    """The API server refuses CEL rules whose cost it cannot bound: every list needs maxItems."""
    for kind in CRD_KINDS:
        spec = openapi_schema(render_crd(kind))["properties"]["spec"]
        for path, node in _walk(spec, "spec"):
            if node.get("type") == "array":
                assert "maxItems" in node, path
            if node.get("type") == "string" and "enum" not in node and "format" not in node:
                assert "maxLength" in node, path


def test_defaults_reach_nested_objects() -> None:
    spec = openapi_schema(render_crd("FallbackPolicy"))["properties"]["spec"]["properties"]
    assert spec["timeouts"]["default"] == {"connectMs": 1000, "firstTokenMs": 10_000, "totalMs": 60_000}
    assert spec["timeouts"]["properties"]["firstTokenMs"]["default"] == 10_000
    assert spec["triggers"]["default"] == [
        "connect-error",
        "timeout",
        "server-error",
        "rate-limited",
        "overloaded",
        "context-length",
    ]
    assert yaml.safe_dump(spec)  # serialisable as YAML
