"""The CRD schemas (through jsonschema) and the pydantic models agree on every testdata file.

Each file under tests/testdata/resources/invalid/ says in its header which layer refuses it and the
field and message expected:

    # refused-by: schema | cel | compile | load
    # expect: Kind/name field.path: message substring

- schema: the CRD's openAPIV3Schema refuses it, and so do the pydantic models, at the same field;
- cel: only a CEL rule in the CRD can refuse it (the API server runs those; the cluster tests apply the
  same files), so jsonschema accepts it and the pydantic validator mirroring the rule refuses it;
- compile: the schema and the models accept it; compile() refuses it (references, cycles, conflicts);
- load: reading the file refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from switchboard_proxy.cli.validating import schema_problems, schema_validators
from switchboard_proxy.config import ConfigProblem, compile, compile_leniently, load_resources

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "resources"
REPO = Path(__file__).resolve().parents[3]
VALIDATORS = schema_validators(REPO / "crds")


@dataclass(frozen=True)
class Expectation:
    layer: str
    kind: str
    name: str
    field_path: str
    message: str

    @classmethod
    def read(cls, path: Path) -> Expectation:
        header = dict(
            line[2:].split(": ", 1) for line in path.read_text().splitlines()[:2] if line.startswith("# ")
        )
        resource, _, rest = header["expect"].partition(" ")
        field_path, _, message = rest.partition(": ")
        kind, _, name = resource.partition("/")
        return cls(header["refused-by"], kind, name, field_path, message)

    def matches(self, problem: ConfigProblem) -> bool:
        return (problem.kind, problem.name, problem.field_path) == (
            self.kind,
            self.name,
            self.field_path,
        ) and self.message in problem.message


def invalid_files() -> list[Path]:
    return sorted((TESTDATA / "invalid").glob("*.yaml"))


def valid_paths() -> list[Path]:
    return [*sorted((TESTDATA / "valid").glob("*.yaml")), REPO / "examples"]


def test_the_table_is_big_enough() -> None:
    layers = [Expectation.read(p).layer for p in invalid_files()]
    assert len(layers) >= 25
    assert {"schema", "cel", "compile", "load"} <= set(layers)


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.stem)
def test_invalid_file_is_refused_by_its_layer(path: Path) -> None:
    expected = Expectation.read(path)
    loaded = load_resources([path])
    by_schema = schema_problems(loaded.documents, VALIDATORS)
    by_models = loaded.problems
    by_compile = list(compile_leniently(loaded.resources).problems) if not by_models else []
    everything = by_schema + by_models + by_compile
    assert any(expected.matches(p) for p in everything), f"expected {expected}, got:\n" + "\n".join(
        map(str, everything)
    )
    if expected.layer == "schema":
        assert any(expected.matches(p) for p in by_schema), "the CRD schema must refuse it"
        assert any(p.field_path == expected.field_path for p in by_models), "the models must refuse it too"
    elif expected.layer == "cel":
        assert by_schema == [], "only a CEL rule can catch this; the plain schema must accept it"
        assert any(expected.matches(p) for p in by_models), (
            "the pydantic mirror of the CEL rule must refuse it"
        )
    elif expected.layer == "compile":
        assert by_schema == [] and by_models == [], "schema and models accept it; compile() refuses it"
        assert any(expected.matches(p) for p in by_compile)
    else:
        assert expected.layer == "load"
        assert any(expected.matches(p) for p in by_models)


@pytest.mark.parametrize("path", valid_paths(), ids=lambda p: p.stem)
def test_valid_files_pass_schema_models_and_compile(path: Path) -> None:
    loaded = load_resources([path])
    assert loaded.documents, "nothing was read"
    assert schema_problems(loaded.documents, VALIDATORS) == []
    assert loaded.problems == []
    config = compile(loaded.resources)
    assert config.routes


def test_every_cel_rule_has_an_invalid_example() -> None:
    """A CEL rule without a testdata file could silently disagree with its pydantic mirror."""
    import yaml

    messages = []
    for crd_path in (REPO / "crds").glob("*.yaml"):
        messages += _cel_messages(yaml.safe_load(crd_path.read_text()))
    cel_expectations = [
        Expectation.read(p).message for p in invalid_files() if Expectation.read(p).layer == "cel"
    ]
    uncovered = [m for m in messages if not any(e and e in m for e in cel_expectations)]
    assert messages and not uncovered, f"CEL rules without an invalid example: {uncovered}"


def _cel_messages(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [rule["message"] for rule in node.get("x-kubernetes-validations", [])]
        return found + [m for value in node.values() for m in _cel_messages(value)]
    if isinstance(node, list):
        return [m for item in node for m in _cel_messages(item)]
    return []
