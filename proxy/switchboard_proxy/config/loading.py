"""Read resource YAML/JSON and compiled config JSON, turning every mistake into a located `ConfigProblem`.

Used by the CLI (`validate`, `compile`, `explain`), by the proxy's local mode (`--resources`) and, through
`parse_resource`, by the operator for objects read from the API server. Documents of other API groups (a
Secret or Namespace next to the resources) are skipped, not refused, so a directory that works with
`kubectl apply -f` works here too. PyYAML is the one non-pydantic import of the contract: parsing text is
not a Kubernetes concern.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .consistency import reference_problems
from .model import RouterConfig
from .policy_spec import RENAMED_ON
from .problems import ConfigError, ConfigProblem, format_field_path
from .resources import GROUP, KINDS, VERSION, FallbackPolicy, ModelEndpoint, ModelRoute, Resources

RESOURCE_SUFFIXES = (".yaml", ".yml", ".json")
AnyResource = ModelEndpoint | FallbackPolicy | ModelRoute

_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


@dataclass
class LoadedResources:
    """Resources read from files, the problems found, and what was skipped."""

    resources: Resources
    problems: list[ConfigProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    origin: dict[tuple[str, str], str] = field(default_factory=dict)


def iter_resource_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named by `paths`, directories expanded recursively in sorted order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in RESOURCE_SUFFIXES and p.is_file())
        else:
            yield path


def load_resources(paths: Iterable[str | Path], *, namespace: str = "") -> LoadedResources:
    """Parse every document of every file; never stops at the first problem."""
    items: list[AnyResource] = []
    loaded = LoadedResources(resources=Resources(namespace=namespace))
    for path in iter_resource_files(paths):
        for doc in _read_documents(path, loaded.problems):
            resource, problems = parse_document(doc, file=str(path), skipped=loaded.skipped)
            loaded.problems.extend(problems)
            if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith(GROUP):
                loaded.documents.append((str(path), doc))
            if resource is not None:
                items.append(resource)
                loaded.origin[(resource.kind, resource.name)] = str(path)
    loaded.resources = Resources.of(items, namespace=namespace)
    return loaded


def _read_documents(path: Path, problems: list[ConfigProblem]) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            return [json.loads(text)]
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        problems.append(ConfigProblem("", "", "", f"cannot read: {_first_line(exc)}", file=str(path)))
        return []


def parse_document(
    doc: Any, *, file: str = "", skipped: list[str] | None = None
) -> tuple[AnyResource | None, list[ConfigProblem]]:
    """One document -> a typed resource, or None with the problems (or a note in `skipped`)."""
    if not isinstance(doc, dict):
        return None, [ConfigProblem("", "", "", "a document must be a mapping (a Kubernetes object)", file)]
    api_version = str(doc.get("apiVersion", ""))
    kind = str(doc.get("kind", ""))
    name = document_name(doc)
    if not api_version.startswith(GROUP + "/"):
        if skipped is not None:
            skipped.append(f"{file}: {kind or '?'}/{name} ({api_version or 'no apiVersion'})")
        return None, []
    if api_version != f"{GROUP}/{VERSION}":
        return None, [
            ConfigProblem(kind, name, "apiVersion", f"unsupported version; use {GROUP}/{VERSION}", file)
        ]
    if kind not in KINDS:
        return None, [
            ConfigProblem(kind, name, "kind", f"unknown kind; expected one of {', '.join(KINDS)}", file)
        ]
    return parse_resource(doc, file=file)


def parse_resource(doc: dict[str, Any], *, file: str = "") -> tuple[AnyResource | None, list[ConfigProblem]]:
    """Validate one object of a known kind (also used by the operator for objects from the API)."""
    kind = str(doc.get("kind", ""))
    boolean_keys = list(_boolean_keys(doc, ""))
    if boolean_keys:
        return None, [
            ConfigProblem(kind, document_name(doc), path, _boolean_key_message(kind, path), file)
            for path in boolean_keys
        ]
    try:
        return KINDS[kind].model_validate(doc), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, kind=kind, name=document_name(doc), file=file)


def problems_from_validation(
    exc: ValidationError, *, kind: str, name: str, file: str = ""
) -> list[ConfigProblem]:
    """pydantic errors -> ConfigProblems with dotted field paths in the user's camelCase."""
    problems = []
    for error in exc.errors(include_url=False):
        location = [part for part in error["loc"] if not _is_pydantic_tag(part)]
        message = _MESSAGES.get(error["type"], error["msg"]).removeprefix("Value error, ")
        problems.append(ConfigProblem(kind, name, format_field_path(location), message, file))
    return problems


def load_router_config(path: str | Path) -> RouterConfig:
    """Read a compiled config JSON file; raise ConfigError naming the field on anything wrong."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem("", "", "", f"cannot read {path}: {exc.strerror}", str(path))]
        ) from exc
    return parse_router_config(raw, source=str(path))


def parse_router_config(raw: bytes | str, *, source: str = "") -> RouterConfig:
    """Validate compiled config JSON text: its shape, then that every name it mentions exists."""
    try:
        config = RouterConfig.model_validate_json(raw)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation(exc, kind="", name="", file=source)) from exc
    problems = reference_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def _boolean_key_message(kind: str, path: str) -> str:
    if kind == "FallbackPolicy" and path == "spec.true (key)":
        return RENAMED_ON  # the bare `on:` of FallbackPolicies written before the rename
    return "YAML 1.1 reads a bare on/off/yes/no key as a boolean; no Switchboard field is named so"


def _boolean_keys(node: Any, path: str) -> Iterator[str]:
    """Paths of mapping keys that YAML turned into booleans (the classic bare `on:`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, bool):
                yield f"{path}.{str(key).lower()}".lstrip(".") + " (key)"
            else:
                yield from _boolean_keys(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _boolean_keys(item, f"{path}[{i}]")


def document_name(doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return str(name) if name else "<unnamed>"


def _is_pydantic_tag(part: object) -> bool:
    # Union members and function validators add tags such as 'function-after[...]' to locations.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
