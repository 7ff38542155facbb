"""`switchboard validate`: every resource file checked against the CRD schemas and the semantic rules.

Three passes, all reported together: the CRD's openAPIV3Schema through jsonschema (what the API server
would refuse, with unknown fields refused as `kubectl apply` does), the pydantic models (the same rules,
plus the CEL rules the API server would run), and `compile()` (references, cycles, conflicts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from jsonschema import Draft4Validator

from ..config import KINDS, ConfigProblem, RouteConfig, RouterConfig, compile_leniently, load_resources
from ..config.loading import LoadedResources, document_name
from ..config.problems import format_field_path
from ..routing.protocols import apis_of
from ..routing.request import Api
from .crds import crd_file_name, render_crd, strict_validator

ALL_APIS: tuple[str, ...] = get_args(Api)

# crds/ next to the source tree; an installed wheel falls back to CRDs rendered from the models.
SOURCE_CRDS = Path(__file__).resolve().parents[2] / "crds"


@dataclass
class Validation:
    """Result of validating a set of files: problems refuse them, warnings only say what will not work."""

    loaded: LoadedResources
    problems: list[ConfigProblem]
    warnings: list[ConfigProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def schema_validators(crds_dir: Path | None = None) -> dict[str, Draft4Validator]:
    """Strict validators per kind, from `crds_dir` (default: the source tree's crds/ when present)."""
    directory = crds_dir or (SOURCE_CRDS if SOURCE_CRDS.is_dir() else None)
    validators = {}
    for kind in KINDS:
        path = directory / crd_file_name(kind) if directory else None
        crd = yaml.safe_load(path.read_text()) if path and path.exists() else render_crd(kind)
        validators[kind] = strict_validator(crd)
    return validators


def schema_problems(
    documents: Iterable[tuple[str, dict[str, Any]]], validators: dict[str, Draft4Validator]
) -> list[ConfigProblem]:
    """What the API server's schema check would refuse, per document."""
    problems = []
    for file, doc in documents:
        kind = str(doc.get("kind", ""))
        if kind not in validators:
            continue
        for error in sorted(
            validators[kind].iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]
        ):
            for path, message in _located_messages(error):
                problems.append(ConfigProblem(kind, document_name(doc), path, message, file))
    return problems


def _located_messages(error: Any) -> list[tuple[str, str]]:
    """jsonschema reports unknown and missing fields on their parent object; name the field instead."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        return [
            (format_field_path([*path, extra]), "unknown field")
            for extra in sorted(set(error.instance) - known)
        ]
    if error.validator == "required" and "'" in error.message:
        return [(format_field_path([*path, error.message.split("'")[1]]), "required field is missing")]
    return [(format_field_path(path), str(error.message))]


def validate_paths(paths: Sequence[str | Path], *, crds_dir: Path | None = None) -> Validation:
    """Run all three passes over `paths`; problems are deduplicated by (file, resource, field)."""
    loaded = load_resources(paths)
    found = schema_problems(loaded.documents, schema_validators(crds_dir)) + loaded.problems
    compilation = compile_leniently(loaded.resources)
    found += [_with_file(p, loaded) for p in compilation.problems]
    warnings = [_with_file(p, loaded) for p in api_warnings(compilation.config)]
    seen: set[tuple[str, str, str, str]] = set()
    problems = []
    for problem in found:
        key = (problem.file, problem.kind, problem.name, problem.field_path)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    return Validation(loaded=loaded, problems=problems, warnings=warnings)


def api_warnings(config: RouterConfig) -> list[ConfigProblem]:
    """Parts of routes that can never serve the APIs the route is reached by.

    A route is reached by the APIs its control variant's targets serve; the default route by every API
    (whatever matches no other route lands there). A variant, chain entry or shadow that serves none of
    those could never take the route's requests: they would get 400 unsupported_by_route.
    """
    warnings = []
    for name, route in config.routes.items():
        reached = _apis(config, [t.endpoint for t in route.variants[0].targets])
        for field_path, message in _route_api_gaps(config, route, reached):
            warnings.append(ConfigProblem("ModelRoute", name, field_path, message, reason="Warning"))
    return warnings


def _route_api_gaps(config: RouterConfig, route: RouteConfig, reached: set[str]) -> Iterator[tuple[str, str]]:
    missing = sorted(set(ALL_APIS) - reached)
    if route.is_default and missing:
        yield (
            "spec.default",
            f"the default route catches every API, but its targets cannot serve {', '.join(missing)}: "
            "such requests that match no other route get 400 unsupported_by_route",
        )
    for index, variant in enumerate(route.variants[1:], start=1):
        served = _apis(config, [t.endpoint for t in variant.targets])
        if not served & reached:
            yield (
                f"spec.experiment.variants[{index}]",
                f"variant {variant.name} serves {_listed(served)}; reached by {_listed(reached)}",
            )
    for entry in dict.fromkeys(e for variant in route.variants for e in variant.policy.chain):
        if not _apis(config, [entry]) & reached:
            yield (
                "spec.fallbackPolicy",
                f"chain entry {entry} serves none of {_listed(reached)}: it never helps",
            )
    if route.shadow is not None and not _apis(config, [route.shadow.endpoint]) & reached:
        shadow = route.shadow.endpoint
        yield "spec.shadow.endpoint", f"{shadow} serves none of {_listed(reached)}: nothing will be mirrored"


def _apis(config: RouterConfig, endpoints: Iterable[str]) -> set[str]:
    return {api for name in endpoints for api in apis_of(config.endpoints[name])}


def _listed(apis: set[str]) -> str:
    return ", ".join(sorted(apis)) or "nothing"


def _with_file(problem: ConfigProblem, loaded: LoadedResources) -> ConfigProblem:
    return dataclasses.replace(problem, file=loaded.origin.get((problem.kind, problem.name), ""))
