"""compile() reads back what the operator wrote into status: fleet verdicts, explore evidence, migrations.

Each status block counts only while it is about the spec as written now (its fingerprint), so a user's
edit resets it; a damaged block is ignored, never a reason to refuse the resource.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.builders import Document, compile_config, endpoint, route
from switchboard_proxy.config.endpoint_spec import Deprecation
from switchboard_proxy.config.fleet import fingerprint
from switchboard_proxy.config.loading import parse_resource
from switchboard_proxy.config.route_spec import Experiment

EXPERIMENT: dict[str, Any] = {
    "name": "exp",
    "variants": [
        {"name": "control", "weight": 50},
        {"name": "candidate", "weight": 30, "targets": [{"endpoint": "b"}]},
        {"name": "third", "weight": 20},
    ],
    "autoPromote": True,
}


def with_status(doc: Document, **status: Any) -> Document:
    return {**doc, "status": status}


def experiment_fingerprint(experiment: dict[str, Any]) -> str:
    return fingerprint(Experiment.model_validate(experiment))


def weights_of(*docs: Document) -> dict[str, int]:
    config = compile_config(endpoint("a"), endpoint("b"), *docs)
    return {v.name: v.weight for v in config.routes["r"].variants}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({}, {"control": 50, "candidate": 30, "third": 20}, id="no-verdict"),
        pytest.param({"stopped": ["candidate"]}, {"control": 80, "candidate": 0, "third": 20}, id="stopped"),
        pytest.param(
            {"stopped": ["control"]}, {"control": 0, "candidate": 80, "third": 20}, id="control-stopped"
        ),
        pytest.param(
            {"stopped": ["control", "candidate", "third"]},
            {"control": 50, "candidate": 30, "third": 20},
            id="all-stopped-keeps-spec",
        ),
        pytest.param(
            {"winner": "candidate", "promoted": True},
            {"control": 0, "candidate": 100, "third": 0},
            id="promoted",
        ),
        pytest.param(
            {"winner": "candidate", "promoted": False},
            {"control": 50, "candidate": 30, "third": 20},
            id="concluded-not-promoted",
        ),
        pytest.param(
            {"stopped": ["nobody"]}, {"control": 50, "candidate": 30, "third": 20}, id="unknown-name"
        ),
    ],
)
def test_fleet_verdict_sets_variant_weights(status: dict[str, Any], expected: dict[str, int]) -> None:
    block = {"fingerprint": experiment_fingerprint(EXPERIMENT), **status}
    doc = with_status(route("r", ["a"], experiment=EXPERIMENT), experiment=block)
    assert weights_of(doc) == expected


def test_promotion_needs_auto_promote_in_the_spec() -> None:
    experiment = {**EXPERIMENT, "autoPromote": False}
    block = {"fingerprint": experiment_fingerprint(experiment), "winner": "candidate", "promoted": True}
    doc = with_status(route("r", ["a"], experiment=experiment), experiment=block)
    assert weights_of(doc)["candidate"] == 30


def test_an_edited_experiment_resets_the_verdict() -> None:
    block = {"fingerprint": experiment_fingerprint(EXPERIMENT), "stopped": ["candidate"]}
    edited = {
        **EXPERIMENT,
        "variants": [{**v, "weight": w} for v, w in zip(EXPERIMENT["variants"], [40, 40, 20], strict=True)],
    }
    doc = with_status(route("r", ["a"], experiment=edited), experiment=block)
    assert weights_of(doc) == {"control": 40, "candidate": 40, "third": 20}


def test_the_compiled_experiment_names_the_fleet_verdict() -> None:
    block = {"fingerprint": experiment_fingerprint(EXPERIMENT), "stopped": ["third"]}
    config = compile_config(
        endpoint("a"), endpoint("b"), with_status(route("r", ["a"], experiment=EXPERIMENT), experiment=block)
    )
    experiment = config.routes["r"].experiment
    assert experiment is not None and experiment.stopped == ("third",) and experiment.winner == ""


@pytest.mark.parametrize(
    "damaged",
    [
        pytest.param("not a block", id="not-an-object"),
        pytest.param({"verdict": "running"}, id="no-fingerprint"),
        pytest.param({"fingerprint": "x", "stopped": "candidate"}, id="wrong-type"),
    ],
)
def test_a_damaged_status_block_is_ignored(damaged: Any) -> None:
    doc = with_status(route("r", ["a"], experiment=EXPERIMENT), experiment=damaged)
    parsed, problems = parse_resource(doc)
    assert parsed is not None and problems == []
    assert weights_of(doc) == {"control": 50, "candidate": 30, "third": 20}


def priors_of(*docs: Document, name: str = "r") -> dict[str, tuple[float, float]]:
    config = compile_config(*docs)
    explore = config.routes[name].explore
    assert explore is not None
    return {p.endpoint: (p.mean, p.weight) for p in explore.priors}


def test_explore_priors_come_from_quality_prior_or_know_nothing() -> None:
    priors = priors_of(
        endpoint("a", qualityPrior={"mean": 0.8, "weight": 40}),
        endpoint("b"),
        route("r", ["a", "b"], strategy="explore"),
    )
    assert priors == {"a": (0.8, 40.0), "b": (0.5, 2.0)}


def test_fleet_evidence_is_folded_into_the_priors() -> None:
    evidence = {"evidence": [{"endpoint": "a", "observations": 60, "qualitySum": 12}]}
    priors = priors_of(
        endpoint("a", qualityPrior={"mean": 0.8, "weight": 40}),
        with_status(route("r", ["a"], strategy="explore"), explore=evidence),
    )
    assert priors["a"] == pytest.approx(((0.8 * 40 + 12) / 100, 100.0))


def test_inherit_from_adds_the_other_routes_evidence() -> None:
    chat = with_status(
        route("chat", ["a", "b"]),
        explore={"evidence": [{"endpoint": "a", "observations": 98, "qualitySum": 98}]},
    )
    priors = priors_of(
        endpoint("a"),
        endpoint("b"),
        chat,
        route("r", ["a", "b"], strategy="explore", explore={"inheritFrom": "chat"}),
    )
    assert priors["a"] == pytest.approx((0.99, 100.0))
    assert priors["b"] == (0.5, 2.0)


def test_a_variant_that_explores_gets_priors_too_and_weighted_routes_none() -> None:
    experiment = {
        "name": "e",
        "variants": [
            {"name": "control", "weight": 50},
            {"name": "explorer", "weight": 50, "strategy": "explore"},
        ],
    }
    config = compile_config(endpoint("a"), route("r", ["a"], experiment=experiment), route("w", ["a"]))
    assert config.routes["r"].explore is not None
    assert config.routes["w"].explore is None


MIGRATION = {"shadowFor": "1h", "shadowPercent": 20, "steps": [5, 25, 50, 100], "stepEvery": "1h"}
DEPRECATION = {"sunset": "2030-01-01T00:00:00Z", "replacement": "new", "migration": MIGRATION}


def migrating(phase: str, percent: int = 0, deprecation: dict[str, Any] | None = None) -> Document:
    spec = deprecation or DEPRECATION
    block = {"fingerprint": fingerprint(Deprecation.model_validate(spec)), "phase": phase, "percent": percent}
    return with_status(endpoint("old", deprecation=spec), migration=block)


@pytest.mark.parametrize(
    ("phase", "percent", "weights", "shadow"),
    [
        pytest.param("pending", 0, {"old": 80.0, "other": 20.0}, None, id="pending"),
        pytest.param("shadow", 0, {"old": 80.0, "other": 20.0}, ("new", 20.0), id="shadow"),
        pytest.param("canary", 25, {"old": 60.0, "other": 20.0, "new": 20.0}, None, id="canary-25"),
        pytest.param("complete", 100, {"other": 20.0, "new": 80.0}, None, id="complete"),
        pytest.param("rolled-back", 25, {"old": 80.0, "other": 20.0}, None, id="rolled-back"),
        pytest.param("refused", 0, {"old": 80.0, "other": 20.0}, None, id="refused"),
    ],
)
def test_migration_status_moves_weight_to_the_replacement(
    phase: str, percent: int, weights: dict[str, float], shadow: tuple[str, float] | None
) -> None:
    config = compile_config(
        migrating(phase, percent),
        endpoint("new"),
        endpoint("other"),
        route("r", [{"endpoint": "old", "weight": 80}, {"endpoint": "other", "weight": 20}]),
    )
    compiled = config.routes["r"]
    assert {t.endpoint: t.weight for t in compiled.variants[0].targets} == pytest.approx(weights)
    assert (
        (compiled.shadow.endpoint, compiled.shadow.percent) == shadow if shadow else compiled.shadow is None
    )


def test_an_edited_migration_restarts_from_the_spec() -> None:
    edited = {**DEPRECATION, "migration": {**MIGRATION, "stepEvery": "2h"}}
    stale = migrating("canary", 50)
    stale["spec"]["deprecation"] = edited
    config = compile_config(stale, endpoint("new"), route("r", ["old"]))
    assert [t.endpoint for t in config.routes["r"].variants[0].targets] == ["old"]
