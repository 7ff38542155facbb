"""ExploreLedger: local evidence per route and endpoint, replaced by feedback, kept across reloads while
a route's compiled priors are unchanged."""

from __future__ import annotations

from typing import Any

from support.builders import compile_config, endpoint, route
from switchboard_proxy.accounting.exploring import ExploreLedger
from switchboard_proxy.config import RouterConfig
from switchboard_proxy.routing.exploring import Tally


def config(status: dict[str, Any] | None = None) -> RouterConfig:
    explore = route("r", ["a", "b"], strategy="explore")
    if status is not None:
        explore["status"] = status
    return compile_config(endpoint("a"), endpoint("b"), explore, route("w", ["a"]))


def test_only_explore_routes_are_tallied() -> None:
    ledger = ExploreLedger.for_config(config(), None)
    ledger.observe("r", "a", 1.0)
    ledger.observe("w", "a", 1.0)
    assert ledger.explores("r") and not ledger.explores("w")
    assert ledger.tallies == {"r": {"a": Tally(1, 1.0)}}


def test_feedback_replaces_the_counted_quality() -> None:
    ledger = ExploreLedger.for_config(config(), None)
    ledger.observe("r", "a", 1.0)
    ledger.observe("r", "a", 1.0)
    ledger.amend("r", "a", counted=1.0, score=0.25)
    assert ledger.tallies["r"]["a"] == Tally(2, 1.25)


def test_a_reload_keeps_tallies_until_the_priors_move() -> None:
    before = ExploreLedger.for_config(config(), None)
    before.observe("r", "a", 1.0)
    same = ExploreLedger.for_config(config(), before)
    assert same.tallies["r"] == {"a": Tally(1, 1.0)}
    folded = {"explore": {"evidence": [{"endpoint": "a", "observations": 1, "qualitySum": 1}]}}
    moved = ExploreLedger.for_config(config(folded), same)
    assert moved.tallies["r"] == {}  # the fleet's evidence, this sidecar's included, is in the priors now
