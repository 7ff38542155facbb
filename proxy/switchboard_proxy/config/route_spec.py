"""`ModelRoute.spec`: which requests go where, as users write it.

Matching (task types, model names, default), priority, deadline, strategy, the primary pool of targets,
the fallback policy, budget, shadow traffic and an optional experiment. `compiling.compile()` turns a
route into a `RouteConfig` whose variants carry resolved targets and policies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from .spec_base import ResourceName, SpecModel, cel_rules, list_type

Priority = Literal["critical", "standard", "sheddable"]
Strategy = Literal["weighted", "lowest-latency", "lowest-cost", "least-loaded"]
BudgetAction = Literal["cheapest", "reject"]
StickyBy = Literal["user", "request"]
# `none` exists only in the compiled config (a route without `affinity`); users write `session`.
Affinity = Literal["none", "session"]

TaskType = Annotated[str, Field(min_length=1, max_length=64)]
ModelName = Annotated[str, Field(min_length=1, max_length=256)]

MAX_TARGETS = 32
MAX_VARIANTS = 8

# CEL: weights are either left out everywhere (equal shares) or given everywhere and add up to 100.
_WEIGHTS_RULE = (
    "self.all(t, !has(t.weight)) || (self.all(t, has(t.weight)) && self.map(t, t.weight).sum() == 100)",
    "target weights must all be set and add up to 100, or all be left out",
)


class Target(SpecModel):
    """One endpoint of a pool, with its share of traffic for the weighted strategy."""

    endpoint: ResourceName = Field(description="ModelEndpoint name. Example: small-fast.")
    weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percent of traffic for the weighted strategy; all weights of a pool add up to 100. "
        "Default: equal shares. Example: 90.",
    )


def check_weights(targets: list[Target], *, what: str = "target") -> None:
    """Raise ValueError unless weights are all absent, or all present and summing to 100."""
    given = [t.weight for t in targets if t.weight is not None]
    if given and (len(given) != len(targets) or sum(given) != 100):
        raise ValueError(
            f"{what} weights must all be set and add up to 100, or all be left out (got {sum(given)})"
        )


def check_unique_endpoints(targets: list[Target]) -> None:
    """Raise ValueError when a pool lists one endpoint twice."""
    names = [t.endpoint for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"endpoint listed twice in one pool: {', '.join(duplicates)}")


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
        json_schema_extra=list_type("map", "endpoint") | cel_rules(_WEIGHTS_RULE),
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
    """Stops a variant (its keys fall back to the first variant) when it breaches these limits."""

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
        description="Requests a variant must have served before its error rate is judged. Default 200.",
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


class ModelRouteSpec(SpecModel):
    """Which requests go where: matching, priority, deadline, strategy, targets and fallback."""

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
        description="How the primary pool is ordered: weighted, lowest-latency, lowest-cost, least-loaded. "
        "Default weighted.",
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
        json_schema_extra=list_type("map", "endpoint") | cel_rules(_WEIGHTS_RULE),
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

    @field_validator("targets")
    @classmethod
    def _pool(cls, targets: list[Target]) -> list[Target]:
        check_weights(targets)
        check_unique_endpoints(targets)
        return targets
