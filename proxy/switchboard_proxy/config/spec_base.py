"""Shared pieces of the resource specs: the strict camelCase base model, name types and CEL rules.

Every spec model (the `spec:` of a ModelEndpoint, FallbackPolicy or ModelRoute, as users write it) derives
from `SpecModel`: frozen, unknown fields refused, camelCase in YAML and snake_case in Python. A
cross-field rule is written twice on purpose, once as a CEL rule for the API server (attached with
`cel_rules`, rendered into the CRD by `switchboard_proxy.crds`) and once as a pydantic validator for local
files, and tests/unit/config/test_crds_agree.py runs the same files through both.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# DNS-1123 subdomain, what Kubernetes accepts for metadata.name; local files are held to the same rule so
# that a resource that works locally also applies to a cluster.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
MAX_NAME_LENGTH = 253

ResourceName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=NAME_PATTERN,
        description="Name of another resource in the same namespace (DNS-1123 subdomain). "
        "Example: small-fast.",
    ),
]


def cel_rules(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """JSON-schema extra carrying `x-kubernetes-validations` (rule, message[, fieldPath]) for the CRD."""
    rendered = []
    for rule in rules:
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]
        rendered.append(entry)
    return {"x-kubernetes-validations": rendered}


def list_type(kind: str, *keys: str) -> dict[str, Any]:
    """JSON-schema extra for `x-kubernetes-list-type` (set or map with keys), which makes entries unique."""
    extra: dict[str, Any] = {"x-kubernetes-list-type": kind}
    if keys:
        extra["x-kubernetes-list-map-keys"] = list(keys)
    return extra


class SpecModel(BaseModel):
    """Base of every user-written spec model: strict, immutable, camelCase aliases."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )
