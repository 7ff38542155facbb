"""The tests' one set of resource builders: short Python dicts, camelCase as users write them.

`endpoint`, `policy` and `route` return resource documents (what a YAML file or kubectl holds);
`resources()` validates them into typed `Resources` (a spec the contract would refuse fails the test at
once), `compile_config()` compiles them, and `write_resources()` writes them for a sidecar process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from switchboard_proxy.config import API_VERSION, EndpointConfig, Resources, RouterConfig, compile
from switchboard_proxy.config.loading import AnyResource, parse_resource

SIM_URL = "http://127.0.0.1:9100/v1"
Document = dict[str, Any]


def document(kind: str, name: str, spec: dict[str, Any], *, created: datetime | None = None) -> Document:
    metadata: dict[str, Any] = {"name": name}
    if created is not None:
        metadata["creationTimestamp"] = created.isoformat()
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def endpoint(name: str, url: str = SIM_URL, **spec: Any) -> Document:
    """A ModelEndpoint at `url` (an OpenAI base URL); its model id is its name unless `model` says."""
    return document("ModelEndpoint", name, {"url": url, "model": name, **spec})


def sim_endpoint(name: str, sim_url: str, **spec: Any) -> Document:
    """A ModelEndpoint played by the switchboard-sim at `sim_url` (its root URL), unless `url` says."""
    return endpoint(name, spec.pop("url", f"{sim_url}/v1"), **spec)


def policy(name: str, **spec: Any) -> Document:
    return document("FallbackPolicy", name, spec)


def route(
    name: str, targets: Sequence[str | dict[str, Any]] = (), *, created: datetime | None = None, **spec: Any
) -> Document:
    """A ModelRoute over `targets` (names, or {endpoint, weight}); `spec` may give `targets` itself."""
    pool = [t if isinstance(t, dict) else {"endpoint": t} for t in targets]
    return document("ModelRoute", name, {"targets": pool, **spec} if pool else spec, created=created)


def typed(doc: Document) -> AnyResource:
    """One document as a typed resource; fails the test with the problems if the spec is invalid."""
    parsed, problems = parse_resource(doc)
    assert parsed is not None, [str(p) for p in problems]
    return parsed


def resources(*docs: Document | AnyResource, namespace: str = "") -> Resources:
    return Resources.of([typed(d) if isinstance(d, dict) else d for d in docs], namespace=namespace)


def compile_config(*docs: Document | AnyResource, now: datetime | None = None) -> RouterConfig:
    """Compile strictly (a problem fails the test)."""
    return compile(resources(*docs), now=now)


def endpoint_config(name: str = "e", **spec: Any) -> EndpointConfig:
    """One compiled endpoint (with the defaults compile applies)."""
    return compile_config(endpoint(name, **spec), route("r", [name])).endpoints[name]


def write_resources(directory: Path, documents: Iterable[Document]) -> Path:
    """Write resource documents as one multi-document YAML file in `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "resources.yaml").write_text(yaml.safe_dump_all(list(documents), sort_keys=False))
    return directory
