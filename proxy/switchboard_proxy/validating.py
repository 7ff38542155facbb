"""`switchboard validate`: every resource file checked against the CRD schemas and the semantic rules.

Three passes, all reported together: the CRD's openAPIV3Schema through jsonschema (what the API server
would refuse, with unknown fields refused as `kubectl apply` does), the pydantic models (the same rules,
plus the CEL rules the API server would run), and `compile()` (references, cycles, conflicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

from .config import KINDS, ConfigProblem, compile_leniently, load_resources
from .config.loading import LoadedResources, document_name
from .config.problems import format_field_path
from .crds import crd_file_name, render_crd, strict_validator

# crds/ next to the source tree; an installed wheel falls back to CRDs rendered from the models.
SOURCE_CRDS = Path(__file__).resolve().parents[2] / "crds"


@dataclass
class Validation:
    """Result of validating a set of files."""

    loaded: LoadedResources
    problems: list[ConfigProblem]

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
    seen: set[tuple[str, str, str, str]] = set()
    problems = []
    for problem in found:
        key = (problem.file, problem.kind, problem.name, problem.field_path)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    return Validation(loaded=loaded, problems=problems)


def _with_file(problem: ConfigProblem, loaded: LoadedResources) -> ConfigProblem:
    file = loaded.origin.get((problem.kind, problem.name), "")
    return ConfigProblem(problem.kind, problem.name, problem.field_path, problem.message, file)
