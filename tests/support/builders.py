"""Build resources for tests from short Python dicts (camelCase, as users write them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard_proxy.config import API_VERSION, Resources
from switchboard_proxy.config.loading import AnyResource, parse_resource

SIM_URL = "http://127.0.0.1:9100/v1"


def resource(kind: str, name: str, spec: dict[str, Any], *, created: datetime | None = None) -> AnyResource:
    """One typed resource; fails the test with the problems if the spec is invalid."""
    metadata: dict[str, Any] = {"name": name}
    if created is not None:
        metadata["creationTimestamp"] = created.isoformat()
    parsed, problems = parse_resource(
        {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    )
    assert parsed is not None, problems
    return parsed


def endpoint(name: str, **spec: Any) -> AnyResource:
    return resource("ModelEndpoint", name, {"url": SIM_URL, "model": name, **spec})


def policy(name: str, **spec: Any) -> AnyResource:
    return resource("FallbackPolicy", name, spec)


def route(
    name: str, targets: list[str] | list[dict[str, Any]], *, created: datetime | None = None, **spec: Any
) -> AnyResource:
    pool = [t if isinstance(t, dict) else {"endpoint": t} for t in targets]
    return resource("ModelRoute", name, {"targets": pool, **spec}, created=created)


def resources(*items: AnyResource, namespace: str = "") -> Resources:
    return Resources.of(list(items), namespace=namespace)
