"""The README's "Try it on kind": only what needs Docker (kind, docker) or the internet (a chart repository,
Grafana from it) is left out of the tests; everything else is a command the cluster tier runs."""

from __future__ import annotations

import pytest

from support.processes import REPO_ROOT
from support.readme_commands import commands

pytestmark = pytest.mark.chart

TITLE = "Try it on kind"


def test_only_docker_and_internet_commands_are_left_out() -> None:
    found = commands(TITLE)
    for command in found:
        needs_docker = command.text.startswith(("kind ", "docker "))
        needs_internet = "prometheus-community" in command.text or "monitoring-grafana" in command.text
        assert (command.skipped_because == "needs Docker") == needs_docker, command
        assert (command.skipped_because == "needs the internet") == needs_internet, command
    run = [c for c in found if not c.skipped_because]
    assert len(run) >= 12
    assert any(c.text.startswith("helm install switchboard") for c in run)
    assert any(c.text.startswith("helm test") for c in run)
    assert any("monitoring.dashboard.enabled=true" in c.text for c in run)


def test_the_kind_config_is_what_the_readme_creates() -> None:
    (create,) = [c for c in commands(TITLE) if c.text.startswith("kind create cluster")]
    assert "--config kind-config.yaml" in create.text and (REPO_ROOT / "kind-config.yaml").exists()
    (load,) = [c for c in commands(TITLE) if c.text.startswith("kind load")]
    kind_config = (REPO_ROOT / "kind-config.yaml").read_text()
    assert "--name switchboard" in load.text and "name: switchboard" in kind_config
