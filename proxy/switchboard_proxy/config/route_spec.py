"""`ModelRoute.spec`: which requests go where, as users write it.

Matching (task types, model names, default), priority, deadline, strategy, the primary pool of targets,
the fallback policy, budget, shadow traffic and an optional experiment. `compiling.compile()` turns a
route into a `RouteConfig` whose variants carry resolved targets and policies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .experiment_spec import Experiment
from .pool_spec import MAX_TARGETS, WEIGHTS_RULE, Strategy, Target, check_unique_endpoints, check_weights
from .spec_base import ResourceName, SpecModel, cel_rules, list_type

Priority = Literal["critical", "standard", "sheddable"]
BudgetAction = Literal["cheapest", "reject"]
# `none` exists only in the compiled config (a route without `affinity`); users write `session`.
Affinity = Literal["none", "session"]

TaskType = Annotated[str, Field(min_length=1, max_length=64)]
ModelName = Annotated[str, Field(min_length=1, max_length=256)]


class Match(SpecModel):
    """Which requests this route serves besides those naming the route itself in `model`."""

    task_types: list[TaskType] = Field(
        default_factory=list,
        max_length=32,
        description="Values of the X-Switchboard-Task header this route serves. Example: [completion].",
        json_schema_extra=list_type("set"),
    )
    models: list[ModelName] = Field(
        default_factory=list,
        max_length=32,
        description="Extra values of the request's `model` field this route serves, e.g. the name apps "
        "already use for a model being migrated. Example: [gpt-4o-mini].",
        json_schema_extra=list_type("set"),
    )


class Budget(SpecModel):
    """Spend limit of the route per time window: each request reserves its worst case (prompt estimate
    plus max_tokens at the endpoint's prices) before it is sent and settles to its real cost after, so
    concurrent requests cannot overspend; shared by the namespace's sidecars with `--state`."""

    usd: float = Field(gt=0, le=1_000_000, description="US dollars per window. Example: 50.")
    window: str = Field(
        default="1h",
        max_length=8,
        pattern=r"^[1-9][0-9]{0,5}(s|m|h|d)$",
        description="Window length: a number and s, m, h or d. Default 1h. Example: 24h.",
    )
    action: BudgetAction = Field(
        default="cheapest",
        description="When the budget is spent: cheapest (only the cheapest eligible endpoint) or reject "
        "(429). Default cheapest.",
    )


class Shadow(SpecModel):
    """Mirrors a share of requests to a candidate endpoint; its responses are measured, never served."""

    endpoint: ResourceName = Field(description="ModelEndpoint receiving the mirrored requests.")
    percent: float = Field(
        default=5, ge=0, le=100, description="Percent of requests mirrored. Default 5. Example: 10."
    )


class SessionAffinity(SpecModel):
    """Keeps a session on one endpoint of the pool, so that the provider's prompt cache keeps serving it."""

    by: Literal["session"] = Field(
        description="session: the X-Switchboard-Session header, else a hash of the conversation's first "
        "messages, picks the endpoint by weighted rendezvous hashing over the eligible pool (target "
        "weights still hold across sessions; an ineligible endpoint's sessions move, and only they). "
        "Example: session.",
        # A one-value Literal renders as `const`, which CRD schemas do not have: an enum says the same.
        json_schema_extra=lambda schema: schema.update(enum=[schema.pop("const")]),
    )


class Explore(SpecModel):
    """Settings of `strategy: explore`: Thompson sampling over the targets' quality, minus a cost penalty.

    reward = quality - costWeight x (the request's cost on the endpoint / its cost on the route's most
    expensive target). Quality is the feedback score when the caller sends one, else 1 for a success that
    was neither truncated nor degraded and 0 otherwise.
    """

    cost_weight: float = Field(
        default=0.2,
        ge=0,
        le=10,
        description="How much one unit of normalised cost (1 = the route's most expensive target) weighs "
        "against one unit of quality (0..1). Default 0.2. Example: 0.5.",
    )
    max_explore_percent: float = Field(
        default=10,
        ge=0,
        le=100,
        description="Most percent of requests sent to an endpoint other than the current posterior's "
        "best. Default 10. Example: 5.",
    )
    inherit_from: ResourceName | None = Field(
        default=None,
        description="ModelRoute whose fleet posterior seeds this route's priors for the endpoints both "
        "share (endpoints' qualityPrior for the rest). Default: none. Example: chat.",
    )


class ModelRouteSpec(SpecModel):
    """Which requests go where: matching, priority, deadline, strategy, targets and fallback."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            (
                "!has(self.explore) || self.strategy == 'explore'",
                "explore settings apply only with strategy explore",
                ".explore",
            ),
        )
    }

    match: Match = Field(default_factory=Match, description="Request matching besides the route's name.")
    default: bool = Field(
        default=False,
        description="Catches requests no other route matches; at most one per namespace. Default false.",
    )
    priority: Priority = Field(
        default="standard",
        description="Load-shedding class: critical is kept longest, sheddable shed first. Default standard.",
    )
    deadline_ms: int = Field(
        default=30_000,
        ge=1,
        le=3_600_000,
        description="Whole-request budget in milliseconds when the caller sends no "
        "X-Switchboard-Deadline-Ms. Default 30000. Example: 800.",
    )
    strategy: Strategy = Field(
        default="weighted",
        description="How the primary pool is ordered: weighted, lowest-latency, lowest-cost, least-loaded "
        "or explore (Thompson sampling, see `explore`). Default weighted.",
    )
    explore: Explore | None = Field(
        default=None,
        description="Settings of strategy explore. Default: costWeight 0.2, maxExplorePercent 10.",
    )
    adaptive_concurrency: bool = Field(
        default=True,
        description="false: this route's requests are held to the endpoints' maxConcurrency only, not to "
        "their adaptive limits (e.g. batch work that accepts the latency of a full upstream). Default true.",
    )
    targets: list[Target] = Field(
        min_length=1,
        max_length=MAX_TARGETS,
        description="The primary pool. Example: [{endpoint: small-fast, weight: 90}, "
        "{endpoint: small-alt, weight: 10}].",
        json_schema_extra=list_type("map", "endpoint") | cel_rules(WEIGHTS_RULE),
    )
    fallback_policy: ResourceName | None = Field(
        default=None,
        description="FallbackPolicy name. Default: no chain, default timeouts, degraded mode error.",
    )
    budget: Budget | None = Field(default=None, description="Optional spend limit per window.")
    shadow: Shadow | None = Field(default=None, description="Optional mirrored traffic to a candidate.")
    experiment: Experiment | None = Field(default=None, description="Optional A/B experiment.")
    affinity: SessionAffinity | None = Field(
        default=None,
        description="Optional session affinity for prompt caches: {by: session}. Default: none (the "
        "strategy orders the pool for every request anew).",
    )

    @model_validator(mode="after")
    def _explore_needs_its_strategy(self) -> ModelRouteSpec:
        if self.explore is not None and self.strategy != "explore":
            raise ValueError("explore settings apply only with strategy explore")
        return self

    @field_validator("targets")
    @classmethod
    def _pool(cls, targets: list[Target]) -> list[Target]:
        check_weights(targets)
        check_unique_endpoints(targets)
        return targets
