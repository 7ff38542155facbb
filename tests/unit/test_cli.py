"""`switchboard validate | compile | explain | crds`, run as the user runs them (the console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from switchboard_proxy.config import compile, load_resources, parse_router_config

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "switchboard")
INVALID = REPO / "tests" / "testdata" / "resources" / "invalid"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_validate_accepts_the_examples() -> None:
    result = run("validate", "examples/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 9 endpoints, 5 policies, 6 routes"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("route-weights-not-100", "ModelRoute/chat: spec.targets: target weights", id="cel-rule"),
        pytest.param("endpoint-wrong-provider", "ModelEndpoint/small: spec.provider: 'gemini'", id="schema"),
        pytest.param(
            "route-unknown-endpoint",
            "ModelRoute/chat: spec.targets[0].endpoint: ModelEndpoint 'nope'",
            id="reference",
        ),
    ],
)
def test_validate_names_file_resource_and_field(name: str, expected: str) -> None:
    path = f"tests/testdata/resources/invalid/{name}.yaml"
    result = run("validate", path)
    assert result.returncode == 1
    assert f"{path}: {expected}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["policy-bare-on-key", "policy-quoted-on-key"])
def test_validate_refuses_the_renamed_on_field_naming_triggers(name: str) -> None:
    result = run("validate", f"tests/testdata/resources/invalid/{name}.yaml")
    assert result.returncode == 1
    assert "FallbackPolicy/pol" in result.stderr and "renamed to `triggers`" in result.stderr


def test_validate_warns_about_route_parts_that_serve_none_of_its_apis(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelEndpoint\nmetadata: {name: embed}\n"
        "spec: {url: 'http://127.0.0.1:1/v1', model: m, capabilities: [embeddings]}\n---\n"
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelEndpoint\nmetadata: {name: claude}\n"
        "spec: {provider: anthropic, url: 'http://127.0.0.1:1/v1', model: c}\n---\n"
        "apiVersion: switchboard.dev/v1alpha1\nkind: FallbackPolicy\nmetadata: {name: p}\n"
        "spec: {chain: [claude]}\n---\n"
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelRoute\nmetadata: {name: r}\n"
        "spec: {targets: [{endpoint: embed}], fallbackPolicy: p, shadow: {endpoint: claude, percent: 5}}\n"
    )
    result = run("validate", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (
        "warning:" in result.stderr
        and "ModelRoute/r: spec.fallbackPolicy: chain entry claude" in result.stderr
    )
    assert "ModelRoute/r: spec.shadow.endpoint: claude serves none of embeddings" in result.stderr


def test_validate_reports_every_problem_of_a_directory(tmp_path: Path) -> None:
    for name in ("endpoint-wrong-provider", "policy-negative-timeout", "two-default-routes"):
        (tmp_path / f"{name}.yaml").write_text((INVALID / f"{name}.yaml").read_text())
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert "spec.provider" in result.stderr and "spec.timeouts.connectMs" in result.stderr
    assert "already the default route" in result.stderr


def test_validate_of_a_missing_path_is_a_usage_error() -> None:
    result = run("validate", "no/such/dir")
    assert result.returncode == 2 and "no such file or directory" in result.stderr


def test_compile_prints_the_config_the_contract_compiles() -> None:
    result = run("compile", "examples/", "--namespace", "team-a", "--at", "2026-11-01T00:00:00+00:00")
    assert result.returncode == 0, result.stderr
    printed = parse_router_config(result.stdout)
    expected = compile(
        load_resources(["examples"], namespace="team-a").resources, now=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert printed == expected and printed.namespace == "team-a"


def test_compile_after_a_sunset_moves_traffic() -> None:
    before = json.loads(run("compile", "examples/", "--at", "2027-02-28T00:00:00+00:00").stdout)
    after = json.loads(run("compile", "examples/", "--at", "2027-03-02T00:00:00+00:00").stdout)

    def pool(config: dict[str, Any]) -> list[str]:
        return [t["endpoint"] for t in config["routes"]["tab-completion"]["variants"][0]["targets"]]

    assert pool(before) == ["small-fast", "small-alt"]
    assert pool(after) == ["small-fast-v2", "small-alt"]
    assert before["version"] != after["version"]


def test_explain_shows_route_variant_attempts_and_reasons(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps(
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
        )
    )
    result = run("explain", "--resources", "examples/", "--task", "edit", "--body", str(body))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "route:     edit  (task 'edit' in match.taskTypes)" in out
    assert "capable: capability (lacks vision)" in out  # the image needs vision, capable has none
    assert "frontier" in out.split("attempts:")[1].split("skipped:")[0]


def test_explain_json_and_sticky_variant() -> None:
    args = ("explain", "--resources", "examples/", "--task", "completion", "--json")
    first = json.loads(run(*args, "--header", "X-Switchboard-User=alice").stdout)
    again = json.loads(run(*args, "--header", "x-switchboard-user=alice", "--seed", "7").stdout)
    assert first["route"] == "tab-completion" and first["variant"] == again["variant"]
    assert {a["endpoint"] for a in first["attempts"]} <= {"small-fast", "small-alt", "small-fast-v2"}
    assert first["when_all_fail"] == "static"


def test_explain_without_a_matching_route() -> None:
    result = run(
        "explain", "--resources", "tests/testdata/resources/valid/providers.yaml", "--task", "nothing"
    )
    assert result.returncode == 1 and "no route matches task 'nothing'" in result.stderr


def test_crds_prints_the_committed_definitions() -> None:
    result = run("crds")
    assert result.returncode == 0
    assert result.stdout.count("kind: CustomResourceDefinition") == 3


@pytest.mark.parametrize("command", ["validate", "compile", "explain", "crds"])
def test_every_command_has_complete_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0 and "usage: switchboard" in result.stdout


QUALITY_LOOP = "tests/testdata/resources/valid/quality-loop.yaml"


def test_explain_shows_the_explore_posterior_and_why_it_picked(tmp_path: Path) -> None:
    # The fleet's evidence in the route's status (what the operator folds in) moves the posterior.
    import yaml

    documents = list(yaml.safe_load_all((REPO / QUALITY_LOOP).read_text()))
    agent = next(d for d in documents if d["metadata"]["name"] == "agent")
    agent["status"] = {
        "explore": {"evidence": [{"endpoint": "small-v2", "observations": 998, "qualitySum": 990}]}
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump_all(documents))
    result = run("explain", "--resources", str(tmp_path), "--task", "agent")
    assert result.returncode == 0, result.stderr
    rows = {
        line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith("  small")
    }
    assert rows["small-v2"][1] == "0.991" and rows["small-v2"][4] == "1000.0"  # (1 + 990) / (2 + 998)
    assert "picked small-v2: the posterior's best mean reward" in result.stdout
    assert result.stdout.splitlines()[4].split()[1] == "small-v2"  # the first attempt

    as_json = json.loads(run("explain", "--resources", str(tmp_path), "--task", "agent", "--json").stdout)
    assert as_json["explore"]["chosen"] == "small-v2"
    assert {e["endpoint"] for e in as_json["explore"]["endpoints"]} == {"small", "small-v2", "frontier"}


def test_explain_of_a_route_that_does_not_explore_has_no_posterior() -> None:
    result = run("explain", "--resources", QUALITY_LOOP, "--task", "chat", "--json")
    assert json.loads(result.stdout)["explore"] is None


def test_report_refuses_a_window_it_cannot_read() -> None:
    result = run("report", "chat", "--prometheus-url", "http://127.0.0.1:1", "--since", "yesterday")
    assert result.returncode == 2
    assert "--since wants a number and s, m, h or d (e.g. 6h), got 'yesterday'" in result.stderr
