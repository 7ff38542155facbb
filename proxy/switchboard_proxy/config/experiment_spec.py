"""`ModelRoute.spec.experiment`: an A/B test between routing configurations, as users write it.

Variants (the first is the control), sticky assignment, the guardrails that stop a variant, the primary
metric the operator's sequential test judges, and whether the winner is promoted on its own. Compiled by
`resolving` into `VariantConfig`s and an `ExperimentConfig`; the operator's fleet verdicts come back
through the route's status (`readback`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .pool_spec import MAX_TARGETS, WEIGHTS_RULE, Strategy, Target, check_unique_endpoints, check_weights
from .spec_base import ResourceName, SpecModel, cel_rules, list_type

StickyBy = Literal["user", "request"]
PrimaryMetric = Literal["feedback", "error-rate", "latency-p95", "cost-per-request"]

MAX_VARIANTS = 8


class Variant(SpecModel):
    """One arm of an experiment; unset fields inherit the route's targets and fallback policy."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Variant name, used in headers and metrics. Example: candidate.",
    )
    weight: int = Field(ge=0, le=100, description="Percent of sticky keys assigned. Example: 50.")
    targets: list[Target] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TARGETS,
        description="Primary pool of this variant. Default: the route's targets.",
        json_schema_extra=list_type("map", "endpoint") | cel_rules(WEIGHTS_RULE),
    )
    fallback_policy: ResourceName | None = Field(
        default=None, description="FallbackPolicy of this variant. Default: the route's."
    )
    strategy: Strategy | None = Field(
        default=None, description="Strategy of this variant. Default: the route's."
    )

    @field_validator("targets")
    @classmethod
    def _pool(cls, targets: list[Target] | None) -> list[Target] | None:
        if targets is not None:
            check_weights(targets)
            check_unique_endpoints(targets)
        return targets


class Guardrails(SpecModel):
    """Stops a variant (its keys go to the first variant still running) when it breaches these limits.

    Each sidecar judges the error rate of its own traffic at once (the fast path); the operator judges
    every limit over the whole fleet from Prometheus and compiles a breaching variant with weight 0.
    """

    max_error_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Highest tolerated share of failed requests. Default 0.05. Example: 0.02.",
    )
    min_requests: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="Requests a variant must have served before it is judged (guardrails and the "
        "sequential test). Default 200.",
    )
    max_p95_latency_ms: int | None = Field(
        default=None,
        ge=1,
        le=3_600_000,
        description="Highest tolerated fleet-wide p95 request latency in ms (operator). Default: none. "
        "Example: 2500.",
    )
    min_feedback: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Lowest tolerated mean feedback score, 0..1 (operator). Default: none. Example: 0.6.",
    )
    max_cost_per_request_usd: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Highest tolerated mean cost of a request in USD (operator). Default: none. "
        "Example: 0.01.",
    )


class Experiment(SpecModel):
    """A/B test between routing configurations with deterministic sticky assignment."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            (
                "self.variants.map(v, v.weight).sum() == 100",
                "variant weights must add up to 100",
                ".variants",
            ),
        )
    }

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Experiment name; part of the assignment hash, so renaming reshuffles. Example: tab-v2.",
    )
    sticky_by: StickyBy = Field(
        default="user",
        description="user: X-Switchboard-User (or the body's user) keeps a caller on one variant; "
        "request: every request is assigned anew. Default user.",
    )
    variants: list[Variant] = Field(
        min_length=2,
        max_length=MAX_VARIANTS,
        description="Arms of the experiment; the first is the control. Weights add up to 100.",
        json_schema_extra=list_type("map", "name"),
    )
    guardrails: Guardrails = Field(default_factory=Guardrails, description="Limits that stop a variant.")
    primary_metric: PrimaryMetric = Field(
        default="error-rate",
        description="What the operator's sequential test compares between each variant and the control: "
        "feedback (mean score, higher wins), error-rate, latency-p95 or cost-per-request (lower wins). "
        "Default error-rate (needs no feedback). Example: feedback.",
    )
    auto_promote: bool = Field(
        default=False,
        description="Compile the winner to 100% once the sequential test concludes (condition "
        "ExperimentConcluded). Default false: the verdict is only reported.",
    )

    @field_validator("variants")
    @classmethod
    def _weights(cls, variants: list[Variant]) -> list[Variant]:
        total = sum(v.weight for v in variants)
        if total != 100:
            raise ValueError(f"variant weights must add up to 100 (got {total})")
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return variants
