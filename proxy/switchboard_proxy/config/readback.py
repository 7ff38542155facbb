"""Apply what the operator wrote into status (see `fleet`) to the config being compiled.

- A route's experiment: variants the fleet guardrails stopped get weight 0 (their share goes to the first
  variant still running, as the sidecar's own guardrails do); a promoted winner gets 100.
- A route with strategy explore: each endpoint's prior is its declared `qualityPrior` (or a know-nothing
  Beta(1, 1)), plus the fleet evidence the operator folded into the `inheritFrom` route's status, plus
  this route's own.
- An endpoint being migrated: the replacement takes `percent` of the endpoint's weight in every pool
  (all of it once the migration completed), and is shadowed during the shadow phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from .fleet import Evidence, experiment_status_of, explore_status_of, migration_status_of
from .model import ExploreConfig, PriorConfig
from .references import ReferenceIndex
from .resources import ModelRoute
from .route_spec import Explore

UNINFORMED_MEAN = 0.5
UNINFORMED_WEIGHT = 2.0  # Beta(1, 1): every quality equally likely


class FleetVariants(NamedTuple):
    """The operator's verdict on a route's variants, as compile applies it."""

    stopped: tuple[str, ...] = ()
    winner: str = ""


class Migrating(NamedTuple):
    """An endpoint part-way through its migration."""

    replacement: str
    fraction: float  # of the endpoint's weight now served by the replacement, 0..1
    shadow_percent: float  # > 0 only in the shadow phase


def fleet_variants(route: ModelRoute) -> FleetVariants:
    """Stopped variants and a promoted winner from status.experiment (nothing when stale or absent)."""
    status = experiment_status_of(route)
    if status is None or route.spec.experiment is None:
        return FleetVariants()
    names = {v.name for v in route.spec.experiment.variants}
    winner = status.winner if status.promoted and route.spec.experiment.auto_promote else ""
    return FleetVariants(
        stopped=tuple(sorted(v for v in status.stopped if v in names)),
        winner=winner if winner in names else "",
    )


def variant_weights(arms: Iterable[tuple[str, int]], fleet: FleetVariants) -> dict[str, int]:
    """Weights after the fleet's verdict; every stopped variant's share moves to the first running one."""
    weights = dict(arms)
    if fleet.winner:
        return {name: 100 if name == fleet.winner else 0 for name in weights}
    running = [name for name in weights if name not in fleet.stopped]
    if not fleet.stopped or not running:
        return weights  # nothing stopped, or everything: the spec's weights are the best there is
    freed = sum(weights[name] for name in fleet.stopped if name in weights)
    result = {name: 0 if name in fleet.stopped else weight for name, weight in weights.items()}
    result[running[0]] += freed
    return result


def explore_config(
    route: ModelRoute, *, endpoints: Iterable[str], index: ReferenceIndex
) -> ExploreConfig | None:
    """Compiled explore settings when the route or one of its variants explores, else None."""
    spec = route.spec
    variants = spec.experiment.variants if spec.experiment else []
    if spec.strategy != "explore" and all(v.strategy != "explore" for v in variants):
        return None
    settings = spec.explore or Explore()
    evidence = _evidence(route)
    inherited = index.routes.get(settings.inherit_from or "")
    if inherited is not None and inherited.name != route.name:
        evidence = _merged(_evidence(inherited), evidence)
    priors = []
    for name in sorted(set(endpoints)):
        declared = index.endpoints[name].spec.quality_prior
        mean, weight = (declared.mean, declared.weight) if declared else (UNINFORMED_MEAN, UNINFORMED_WEIGHT)
        seen = evidence.get(name)
        if seen is not None:
            quality = mean * weight + seen.quality_sum
            weight += seen.observations
            mean = quality / weight
        priors.append(PriorConfig(endpoint=name, mean=round(mean, 6), weight=round(weight, 3)))
    return ExploreConfig(
        cost_weight=settings.cost_weight,
        max_explore_percent=settings.max_explore_percent,
        priors=tuple(priors),
    )


def _evidence(route: ModelRoute) -> dict[str, Evidence]:
    status = explore_status_of(route)
    return {e.endpoint: e for e in status.evidence} if status else {}


def _merged(first: Mapping[str, Evidence], second: Mapping[str, Evidence]) -> dict[str, Evidence]:
    merged = dict(first)
    for name, seen in second.items():
        before = merged.get(name)
        merged[name] = (
            seen
            if before is None
            else Evidence(
                endpoint=name,
                observations=before.observations + seen.observations,
                quality_sum=before.quality_sum + seen.quality_sum,
            )
        )
    return merged


def migrations(index: ReferenceIndex, *, usable: set[str]) -> dict[str, Migrating]:
    """Endpoints whose status.migration is in its shadow or canary phase (or complete)."""
    found: dict[str, Migrating] = {}
    for name, endpoint in index.endpoints.items():
        deprecation = endpoint.spec.deprecation
        status = migration_status_of(endpoint)
        if status is None or deprecation is None or deprecation.migration is None:
            continue
        replacement = deprecation.replacement or ""
        if name not in usable or replacement not in usable:
            continue
        if status.phase == "shadow":
            found[name] = Migrating(replacement, 0.0, deprecation.migration.shadow_percent)
        elif status.phase in ("canary", "complete"):
            percent = 100 if status.phase == "complete" else status.percent
            found[name] = Migrating(replacement, percent / 100, 0.0)
    return found
