"""Validate custom resources against their CRDs' openAPIV3Schema offline, the way the API server does: types,
enums, required fields, and unknown fields refused (as `kubectl apply --validate=strict` would) unless the
schema preserves them. `x-kubernetes-int-or-string` accepts both; CEL rules are left to the cluster tier.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's `=` "value" tag, which the Prometheus Operator's CRDs use as an enum."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_all(text: str) -> list[Any]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if d]  # _Loader is a SafeLoader


def _strict(node: Any) -> Any:
    """The schema as JSON Schema: closed objects, int-or-string as either."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _strict(value) for key, value in node.items()}
    if result.pop("x-kubernetes-int-or-string", False):
        result.pop("type", None)
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = result.pop("x-kubernetes-preserve-unknown-fields", False)
    if result.get("type") == "object" and "properties" in result and not preserve:
        result.setdefault("additionalProperties", False)
    if result.get("type") == "object" and "properties" in result and "metadata" in result["properties"]:
        result["properties"]["metadata"] = {"type": "object"}  # the API server's ObjectMeta, not the CRD's
    return result


class CrdValidator:
    """Schemas of (apiVersion, kind) from CRD documents."""

    def __init__(self, crds: Iterable[dict[str, Any]]) -> None:
        self.schemas: dict[tuple[str, str], dict[str, Any]] = {}
        for crd in crds:
            spec = crd["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})
                for field in ("apiVersion", "kind", "metadata"):
                    schema["properties"].setdefault(
                        field, {"type": "string" if field != "metadata" else "object"}
                    )
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                self.schemas[key] = _strict(schema)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> CrdValidator:
        documents = [d for path in paths for d in load_all(path.read_text())]
        return cls(d for d in documents if d.get("kind") == "CustomResourceDefinition")

    def knows(self, document: dict[str, Any]) -> bool:
        return (document["apiVersion"], document["kind"]) in self.schemas

    def errors(self, document: dict[str, Any]) -> list[str]:
        """Every schema violation of the document ([] when valid)."""
        schema = self.schemas[(document["apiVersion"], document["kind"])]
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
            for error in validator.iter_errors(document)
        ]
