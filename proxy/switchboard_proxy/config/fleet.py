"""What the operator learns from the fleet, as written into the resources' status and read back by compile.

SPEC section 1: guardrail verdicts, exploration evidence and migration steps are not a second config
channel; the operator writes them into status, and `compile()` reads them as part of its input, so the
CLI, local mode and the operator compile the same resources to the same config. These models describe
those status blocks (the CRDs' status schemas are rendered from them), and the `*_of` readers return a
block only when it is valid and still about the spec the user wrote now: each block carries the
`fingerprint` of the spec it judged, so a user's edit of an experiment or a migration resets it.

A block that does not parse is ignored (the operator rewrites it on its next pass), never a reason to
refuse the resource: status is the operator's, and a stale or damaged one must not take a route down.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .resources import ModelEndpoint, ModelRoute

Verdict = str  # "running" | "<variant> wins" | "no difference"
GuardedMetric = Literal["error-rate", "latency-p95", "feedback", "cost-per-request"]
MigrationPhase = Literal["pending", "shadow", "canary", "complete", "rolled-back", "refused"]

RUNNING = "running"
NO_DIFFERENCE = "no difference"


class FleetModel(BaseModel):
    """Base of the status blocks: camelCase like the spec, immutable; unknown keys are ignored so that a
    newer operator's status does not break an older CLI."""

    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True)


class Estimate(FleetModel):
    """A figure with its 95% confidence interval."""

    value: float = Field(description="Point estimate. Example: 0.031.")
    low: float = Field(description="Lower end of the 95% confidence interval.")
    high: float = Field(description="Upper end of the 95% confidence interval.")


class VariantFigures(FleetModel):
    """Fleet-wide figures of one variant (or of a migration's replacement), from Prometheus."""

    name: str = Field(description="Variant name. Example: candidate.")
    requests: int = Field(default=0, description="Requests counted over the whole fleet.")
    error_rate: Estimate | None = Field(default=None, description="Share of requests answered 5xx.")
    fallback_rate: Estimate | None = Field(default=None, description="Share served by a fallback.")
    degraded_rate: Estimate | None = Field(default=None, description="Share answered in degraded mode.")
    truncated_rate: Estimate | None = Field(default=None, description="Share with finish_reason=length.")
    latency_p95_ms: float | None = Field(default=None, description="p95 request latency in ms.")
    ttft_p95_ms: float | None = Field(default=None, description="p95 time to first token in ms.")
    cost_per_request_usd: Estimate | None = Field(default=None, description="Mean cost of a request.")
    feedback: Estimate | None = Field(default=None, description="Mean feedback score, 0..1.")
    feedback_count: int = Field(default=0, description="Feedback scores counted.")


class Breach(FleetModel):
    """A guardrail a variant breached fleet-wide."""

    variant: str = Field(description="Variant that breached. Example: candidate.")
    metric: GuardedMetric = Field(description="error-rate | latency-p95 | feedback | cost-per-request.")
    value: float = Field(description="The fleet-wide figure. Example: 0.21.")
    limit: float = Field(description="The guardrail it crossed. Example: 0.05.")


class ExperimentStatus(FleetModel):
    """status.experiment of a ModelRoute: the operator's sequential test and fleet guardrails."""

    fingerprint: str = Field(description="Hash of the spec.experiment judged; another one resets this.")
    verdict: Verdict = Field(default=RUNNING, description="running | <variant> wins | no difference.")
    started_at: datetime | None = Field(default=None, description="When the operator began judging it.")
    since: datetime | None = Field(default=None, description="When the verdict last changed.")
    primary_metric: str = Field(default="", description="The metric the sequential test judges.")
    winner: str = Field(default="", description="The winning variant once the test concluded.")
    promoted: bool = Field(default=False, description="True when the winner is compiled to 100%.")
    stopped: list[str] = Field(default_factory=list, description="Variants compiled with weight 0.")
    breaches: list[Breach] = Field(default_factory=list, description="Guardrails breached fleet-wide.")
    variants: list[VariantFigures] = Field(default_factory=list, description="Per-variant figures.")
    message: str = Field(default="", description="Why figures are missing, e.g. Prometheus unreachable.")
    checked_at: datetime | None = Field(default=None, description="When Prometheus was last read.")


class Evidence(FleetModel):
    """What the fleet measured of one endpoint's quality on this route (the sidecars' explore tallies)."""

    endpoint: str = Field(description="Endpoint name. Example: small-fast.")
    observations: float = Field(ge=0, description="Requests (or feedback scores) counted.")
    quality_sum: float = Field(ge=0, description="Sum of their quality, 0..1 each.")


class ExploreStatus(FleetModel):
    """status.explore of a ModelRoute: fleet evidence folded into the priors that compile writes."""

    evidence: list[Evidence] = Field(default_factory=list, description="Per-endpoint fleet evidence.")
    folded_at: datetime | None = Field(default=None, description="When the evidence was last folded in.")


class MigrationStatus(FleetModel):
    """status.migration of a ModelEndpoint: where its planned move to the replacement stands."""

    fingerprint: str = Field(description="Hash of the spec.deprecation driven; another one restarts it.")
    phase: MigrationPhase = Field(description="pending | shadow | canary | complete | rolled-back | refused.")
    percent: int = Field(default=0, ge=0, le=100, description="Share of traffic the replacement serves.")
    step: int = Field(default=-1, description="Index of the canary step in spec steps; -1 before them.")
    started_at: datetime | None = Field(default=None, description="When the migration started.")
    step_started_at: datetime | None = Field(default=None, description="When the current phase began.")
    next_step_at: datetime | None = Field(default=None, description="When the next step is due.")
    message: str = Field(default="", description="What happened last, in words.")
    replacement: VariantFigures | None = Field(default=None, description="The replacement's figures.")


class RolloutStatus(FleetModel):
    """status.rollout of a ModelRoute: how many sidecars serve the namespace's current config."""

    version: str = Field(description="The config version the operator compiled last.")
    current: int = Field(default=0, description="Sidecars serving that version.")
    total: int = Field(default=0, description="Sidecars seen by Prometheus.")
    lagging: list[str] = Field(default_factory=list, description="Pods serving another version.")


def fingerprint(model: BaseModel | None) -> str:
    """A short content hash of a spec block, so a status can say which spec it was about."""
    payload = model.model_dump(mode="json", by_alias=True) if model is not None else None
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


BlockT = TypeVar("BlockT", bound=FleetModel)


def _block(status: dict[str, Any] | None, key: str, model: type[BlockT]) -> BlockT | None:
    raw = (status or {}).get(key)
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def experiment_status_of(route: ModelRoute) -> ExperimentStatus | None:
    """The route's status.experiment, when it judges the experiment as written now."""
    block = _block(route.status, "experiment", ExperimentStatus)
    experiment = route.spec.experiment
    if block is None or experiment is None or block.fingerprint != fingerprint(experiment):
        return None
    return block


def explore_status_of(route: ModelRoute) -> ExploreStatus | None:
    """The route's status.explore (evidence stays valid across spec edits: it is about endpoints)."""
    return _block(route.status, "explore", ExploreStatus)


def migration_status_of(endpoint: ModelEndpoint) -> MigrationStatus | None:
    """The endpoint's status.migration, when it drives the deprecation as written now."""
    block = _block(endpoint.status, "migration", MigrationStatus)
    deprecation = endpoint.spec.deprecation
    if block is None or deprecation is None or block.fingerprint != fingerprint(deprecation):
        return None
    return block
