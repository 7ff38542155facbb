"""The Dockerfiles read as promised: the default base is the official Python slim image pinned by digest,
every stage builds on it, the final stage runs as the non-root uid 65532 and holds no build tools (it
only copies the virtualenv from the build stage), and the entry points are the project's scripts.
`make image` builds the same file with buildah; the cluster tier runs that image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = [REPO / "Dockerfile", REPO / "tests" / "cluster" / "demo_app" / "Dockerfile"]
PINNED_BASE = re.compile(r"^python:3\.\d+-slim-bookworm@sha256:[0-9a-f]{64}$")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|make|build-essential|apt-get|apt|pip|setuptools|wheel)\b")


def stages(path: Path) -> tuple[dict[str, str], list[list[dict[str, Any]]]]:
    """(ARGs declared before the first FROM, the instructions of each stage)."""
    parser = DockerfileParser(path=str(path))
    global_args: dict[str, str] = {}
    found: list[list[dict[str, Any]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if not found:
            if instruction["instruction"] == "ARG":
                name, _, default = instruction["value"].partition("=")
                global_args[name] = default
            continue
        found[-1].append(instruction)
    return global_args, found


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_default_base_is_the_official_python_slim_image_pinned_by_digest(path: Path) -> None:
    global_args, found = stages(path)
    assert PINNED_BASE.match(global_args.get("BASE", "")), global_args
    assert len(found) >= 2, "multi-stage: a build stage and a runtime stage"
    assert all(stage[0]["value"].split()[0] == "${BASE}" for stage in found), [s[0]["value"] for s in found]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_final_stage_runs_as_uid_65532_and_has_no_build_tools(path: Path) -> None:
    final = stages(path)[1][-1]
    kinds = [i["instruction"] for i in final]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] == "65532", users
    assert "RUN" not in kinds, "the runtime stage installs nothing: it only copies from the build stage"
    copies = [i["value"] for i in final if i["instruction"] in ("COPY", "ADD")]
    assert any(c.startswith("--from=build ") for c in copies), copies
    assert not [i for i in final if BUILD_TOOLS.search(i["value"]) and i["instruction"] != "LABEL"]


def test_the_image_has_the_three_entry_points_and_starts_the_sidecar() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"switchboard-proxy", "switchboard-operator", "switchboard-sim"} <= set(scripts)
    final = stages(REPO / "Dockerfile")[1][-1]
    (entrypoint,) = [i["value"] for i in final if i["instruction"] == "ENTRYPOINT"]
    assert entrypoint == '["switchboard-proxy"]'
    env = " ".join(i["value"] for i in final if i["instruction"] == "ENV")
    assert "PATH=/opt/switchboard/bin:" in env  # where the build stage's virtualenv puts the scripts


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") :][:5] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!proxy/",
        "!operator/",
    ]
