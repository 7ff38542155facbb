"""CustomResourceDefinitions rendered from the resource models, so schema and models cannot drift.

The pydantic spec models in `switchboard_proxy.config` carry every description, enum, range, default and
CEL rule once; this module turns their JSON schema into structural openAPIV3Schema (inlined `$ref`s, no
`anyOf` for optional fields, OpenAPI 3.0 `exclusiveMinimum`, `default: {}` on nested objects so the API
server applies nested defaults, written out in full because CEL rules are checked against them) and adds
status, printer columns and names. `crds/*.yaml` is the output,
committed; tests/unit/config/test_crds.py fails when it is stale (`make crds` rewrites it).

`strict_validator()` gives the jsonschema validator that `switchboard validate` uses: the CRD schema plus
`additionalProperties: false` wherever the API server's strict field validation would refuse unknown
fields.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft4Validator
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from ..config.fleet import ExperimentStatus, ExploreStatus, MigrationStatus, RolloutStatus
from ..config.resources import GROUP, KINDS, VERSION
from ..config.spec_base import NAME_PATTERN

_DROPPED_KEYS = {"title", "additionalProperties"}
_READY = '.status.conditions[?(@.type=="Ready")].status'

PRINTER_COLUMNS: dict[str, list[dict[str, Any]]] = {
    "ModelEndpoint": [
        {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
        {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Migration", "type": "string", "jsonPath": ".status.migration.phase"},
        {
            "name": "Deprecated",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Deprecated")].status',
        },
        {"name": "Sunset", "type": "date", "jsonPath": ".spec.deprecation.sunset", "priority": 1},
        {"name": "URL", "type": "string", "jsonPath": ".spec.url", "priority": 1},
    ],
    "FallbackPolicy": [
        {"name": "Chain", "type": "string", "jsonPath": ".spec.chain"},
        {"name": "Degraded", "type": "string", "jsonPath": ".spec.degraded.mode"},
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Triggers", "type": "string", "jsonPath": ".spec.triggers", "priority": 1},
    ],
    "ModelRoute": [
        {"name": "Tasks", "type": "string", "jsonPath": ".spec.match.taskTypes"},
        {"name": "Priority", "type": "string", "jsonPath": ".spec.priority"},
        {"name": "Strategy", "type": "string", "jsonPath": ".spec.strategy"},
        {"name": "Policy", "type": "string", "jsonPath": ".spec.fallbackPolicy"},
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Verdict", "type": "string", "jsonPath": ".status.experiment.verdict"},
        # The variants the fleet guardrails took to weight 0 (status.experiment.stopped).
        {"name": "Stopped", "type": "string", "jsonPath": ".status.experiment.stopped"},
        {"name": "Sidecars", "type": "integer", "jsonPath": ".status.rollout.current"},
        {"name": "Lagging", "type": "string", "jsonPath": ".status.rollout.lagging", "priority": 1},
        {"name": "Experiment", "type": "string", "jsonPath": ".spec.experiment.name", "priority": 1},
        {"name": "Config", "type": "string", "jsonPath": ".status.configVersion", "priority": 1},
    ],
}


class _CrdJsonSchema(GenerateJsonSchema):
    """pydantic's generator, but fields with a default factory get a default the API server can apply."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is None or schema.get("default_factory_takes_data"):
            return super().default_schema(schema)
        value = factory()  # type: ignore[call-arg]
        inner = self.generate_inner(schema["schema"])
        # A nested object's default is written out in full: the API server checks CEL rules against the
        # default itself, so `{}` would fail rules such as `self.connectMs <= self.totalMs`.
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {**inner, "default": value}


def spec_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Structural openAPIV3Schema of one spec model."""
    raw = model.model_json_schema(by_alias=True, schema_generator=_CrdJsonSchema)
    schema: dict[str, Any] = _structural(raw, raw.get("$defs", {}))
    return schema


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = _inline(dict(node), defs)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            result[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key == "items":
            result[key] = _structural(value, defs)
        else:
            result[key] = value
    if result.get("x-kubernetes-preserve-unknown-fields"):
        result["type"] = "object"
    return result


def _inline(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Resolve `$ref` and Optional's `anyOf`, drop null defaults, use OpenAPI 3.0 exclusiveMinimum."""
    node.pop("$defs", None)
    while "$ref" in node or "anyOf" in node:
        if "anyOf" in node:  # Optional[X]: the API server expresses "may be absent" by not requiring it
            choices = [c for c in node.pop("anyOf") if c.get("type") != "null"]
            node = {**choices[0], **node} if len(choices) == 1 else {**node, "oneOf": choices}
        if "$ref" in node:
            target = defs[node.pop("$ref").split("/")[-1]]
            node = {**target, **node}  # the property's own description and default win
    if "default" in node and node["default"] is None:
        del node["default"]
    minimum = node.get("exclusiveMinimum")
    if isinstance(minimum, int | float) and not isinstance(minimum, bool):
        node["minimum"] = node.pop("exclusiveMinimum")
        node["exclusiveMinimum"] = True
    return node


def _condition_schema() -> dict[str, Any]:
    fields = {
        "type": ("string", "Condition type: Accepted, ResolvedRefs, Ready or Deprecated."),
        "status": ("string", "True, False or Unknown."),
        "reason": ("string", "CamelCase reason, e.g. EndpointNotFound."),
        "message": ("string", "Human-readable detail naming the field at fault."),
        "lastTransitionTime": ("string", "When the status last changed."),
        "observedGeneration": ("integer", "metadata.generation the condition was computed from."),
    }
    properties: dict[str, Any] = {k: {"type": t, "description": d} for k, (t, d) in fields.items()}
    properties["lastTransitionTime"]["format"] = "date-time"
    properties["status"]["enum"] = ["True", "False", "Unknown"]
    return {
        "type": "object",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": properties,
    }


def _block_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A status block's schema from its model in `config.fleet` (the description is its docstring)."""
    schema = spec_schema(model)
    schema.pop("required", None)  # what the operator writes is its business; compile ignores bad blocks
    schema["description"] = (model.__doc__ or "").strip().split("\n")[0]
    return schema


def status_schema(kind: str) -> dict[str, Any]:
    """Status written by the operator: conditions, observedGeneration and per-kind details."""
    properties: dict[str, Any] = {
        "observedGeneration": {"type": "integer", "description": "Generation last reconciled."},
        "conditions": {
            "type": "array",
            "description": "Standard conditions: Accepted, ResolvedRefs, Ready, Deprecated.",
            "items": _condition_schema(),
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
        },
        "configVersion": {
            "type": "string",
            "description": "Version of the compiled config that includes this.",
        },
    }
    if kind == "ModelRoute":
        properties["endpoints"] = {
            "type": "array",
            "items": {"type": "string"},
            "description": "Endpoints this route currently sends to (after deprecation replacements).",
        }
        properties["experiment"] = _block_schema(ExperimentStatus)
        properties["explore"] = _block_schema(ExploreStatus)
        properties["rollout"] = _block_schema(RolloutStatus)
    if kind == "ModelEndpoint":
        properties["migration"] = _block_schema(MigrationStatus)
    return {"type": "object", "description": "Written by switchboard-operator.", "properties": properties}


def render_crd(kind: str) -> dict[str, Any]:
    """The full CustomResourceDefinition of one kind."""
    cls = KINDS[kind]
    spec_model = cls.model_fields["spec"].annotation
    assert isinstance(spec_model, type) and issubclass(spec_model, BaseModel)
    schema = {
        "type": "object",
        "description": (cls.__doc__ or kind).strip(),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "switchboard.dev/v1alpha1"},
            "kind": {"type": "string", "description": kind},
            "metadata": {"type": "object"},
            "spec": spec_schema(spec_model),
            "status": status_schema(kind),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{cls.PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "switchboard"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": cls.PLURAL,
                "singular": kind.lower(),
                "shortNames": [cls.SHORT_NAME],
                "categories": ["switchboard"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        *PRINTER_COLUMNS[kind],
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def crd_file_name(kind: str) -> str:
    """crds/<plural>.yaml"""
    return f"{KINDS[kind].PLURAL}.yaml"


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    """The openAPIV3Schema of a CRD's served version."""
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def strict_validator(crd: dict[str, Any]) -> Draft4Validator:
    """A jsonschema validator of the CRD schema that refuses unknown fields like `kubectl apply` does."""
    schema = copy.deepcopy(openapi_schema(crd))
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 253, "pattern": NAME_PATTERN}},
        "additionalProperties": True,  # labels, annotations, namespace... are the API server's business
    }
    _forbid_unknown(schema)
    return Draft4Validator(schema)


def _forbid_unknown(node: dict[str, Any]) -> None:
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        node.setdefault("additionalProperties", False)
    for sub in node.get("properties", {}).values():
        _forbid_unknown(sub)
    if isinstance(node.get("items"), dict):
        _forbid_unknown(node["items"])
