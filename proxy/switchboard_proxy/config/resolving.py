"""Turn checked resources into compiled config entries: defaults applied once, names resolved.

Called by `compiling.compile_leniently()` only for resources whose references were already checked, so
every lookup here succeeds. Endpoints past their sunset are replaced here (following replacement chains),
and pools that end up naming one endpoint twice are merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from .model import (
    DEFAULT_VARIANT,
    ApiKeyConfig,
    BreakerConfig,
    BudgetConfig,
    DegradedConfig,
    EndpointConfig,
    ExperimentConfig,
    PolicyConfig,
    RouteConfig,
    ShadowConfig,
    TargetConfig,
    VariantConfig,
)
from .policy_spec import EMPTY_COMPLETION, FallbackPolicySpec
from .pool_spec import Strategy, Target
from .readback import FleetVariants, Migrating, explore_config, fleet_variants, migrations, variant_weights
from .references import ReferenceIndex
from .resources import ModelEndpoint, ModelRoute
from .route_spec import ModelRouteSpec

DEFAULT_POLICY = FallbackPolicySpec()
NO_VERDICT = FleetVariants()
DEFAULT_AZURE_API_VERSION = "2024-10-21"
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# Maps an endpoint name to the one that serves its traffic now (itself unless its sunset has passed).
Successor = Callable[[str], str]


def resolve_endpoint(endpoint: ModelEndpoint, *, policies: Sequence[FallbackPolicySpec]) -> EndpointConfig:
    """An endpoint with defaults applied; its breaker is the most protective of the policies using it."""
    spec = endpoint.spec
    governing = list(policies) or [DEFAULT_POLICY]
    deprecation = spec.deprecation
    limits = spec.limits
    return EndpointConfig(
        name=endpoint.name,
        provider=spec.provider,
        url=spec.url.rstrip("/"),
        model=spec.model,
        api_version=(spec.api_version or DEFAULT_AZURE_API_VERSION)
        if spec.provider == "azure-openai"
        else "",
        api_key=_api_key(endpoint),
        input_per_mtok_usd=spec.pricing.input_per_mtok,
        output_per_mtok_usd=spec.pricing.output_per_mtok,
        cached_input_per_mtok_usd=(
            spec.pricing.cached_input_per_mtok
            if spec.pricing.cached_input_per_mtok is not None
            else spec.pricing.input_per_mtok
        ),
        cache_write_per_mtok_usd=(
            spec.pricing.cache_write_per_mtok
            if spec.pricing.cache_write_per_mtok is not None
            else spec.pricing.input_per_mtok
        ),
        context_window_tokens=spec.context_window,
        max_output_tokens=spec.max_output_tokens,
        capabilities=tuple(sorted(set(spec.capabilities))),
        max_concurrency=limits.max_concurrency,
        adaptive_concurrency=limits.adaptive_concurrency and limits.max_concurrency > 0,
        max_queue=limits.max_queue if limits.max_queue is not None else 2 * limits.max_concurrency,
        requests_per_minute=limits.requests_per_minute,
        requests_burst=limits.requests_burst or limits.requests_per_minute,
        tokens_per_minute=limits.tokens_per_minute,
        tokens_burst=limits.tokens_burst or limits.tokens_per_minute,
        breaker=BreakerConfig(
            consecutive_failures=min(p.circuit_breaker.consecutive_failures for p in governing),
            open_seconds=max(p.circuit_breaker.open_seconds for p in governing),
        ),
        deprecated=deprecation is not None,
        sunset=deprecation.sunset if deprecation else None,
        replacement=(deprecation.replacement or "") if deprecation else "",
    )


def _api_key(endpoint: ModelEndpoint) -> ApiKeyConfig:
    # A secretRef becomes a file named after the endpoint in Secret switchboard-credentials: endpoint names
    # are unique in a namespace, so the file names cannot collide, and the config never holds the key.
    source = endpoint.spec.api_key
    if source is None:
        return ApiKeyConfig(source="none")
    if source.env is not None:
        return ApiKeyConfig(source="env", name=source.env)
    return ApiKeyConfig(source="file", name=endpoint.name)


def resolve_route(
    route: ModelRoute,
    *,
    policies: dict[str, FallbackPolicySpec],
    index: ReferenceIndex,
    usable: set[str],
    now: datetime,
) -> RouteConfig:
    """A route with its variants' pools and policies resolved and deprecated endpoints replaced."""
    spec = route.spec

    def successor(name: str) -> str:
        return effective_endpoint(name, index=index, usable=usable, now=now)

    moving = migrations(index, usable=usable)
    fleet = fleet_variants(route)
    variants = resolve_variants(spec, policies=policies, successor=successor, fleet=fleet, moving=moving)
    budget = spec.budget
    return RouteConfig(
        name=route.name,
        task_types=tuple(spec.match.task_types),
        models=tuple(spec.match.models),
        is_default=spec.default,
        priority=spec.priority,
        deadline_ms=spec.deadline_ms,
        adaptive_concurrency=spec.adaptive_concurrency,
        variants=variants,
        experiment=_experiment(spec, fleet),
        budget=BudgetConfig(
            usd=budget.usd, window_seconds=window_seconds(budget.window), action=budget.action
        )
        if budget
        else None,
        shadow=ShadowConfig(endpoint=successor(spec.shadow.endpoint), percent=spec.shadow.percent)
        if spec.shadow
        else _migration_shadow(variants, moving),
        affinity=spec.affinity.by if spec.affinity else "none",
        explore=explore_config(
            route, endpoints=(t.endpoint for v in variants for t in v.targets), index=index
        ),
    )


def _migration_shadow(variants: Iterable[VariantConfig], moving: dict[str, Migrating]) -> ShadowConfig | None:
    """During a migration's shadow phase its replacement is mirrored (unless the route has a shadow)."""
    for variant in variants:
        for target in variant.targets:
            migrating = moving.get(target.endpoint)
            if migrating is not None and migrating.shadow_percent > 0:
                return ShadowConfig(endpoint=migrating.replacement, percent=migrating.shadow_percent)
    return None


def resolve_variants(
    spec: ModelRouteSpec,
    *,
    policies: dict[str, FallbackPolicySpec],
    successor: Successor,
    fleet: FleetVariants = NO_VERDICT,
    moving: dict[str, Migrating] | None = None,
) -> tuple[VariantConfig, ...]:
    """The route's variants; without an experiment, a single `default` variant of the route itself.
    The operator's fleet verdict (`fleet`) sets the weights of stopped or promoted variants."""
    route_policy = spec.fallback_policy or ""
    arms: list[tuple[str, int, list[Target], str, Strategy]] = [
        (DEFAULT_VARIANT, 100, spec.targets, route_policy, spec.strategy)
    ]
    if spec.experiment is not None:
        arms = [
            (
                v.name,
                v.weight,
                v.targets or spec.targets,
                v.fallback_policy or route_policy,
                v.strategy or spec.strategy,
            )
            for v in spec.experiment.variants
        ]
    weights = variant_weights(((arm[0], arm[1]) for arm in arms), fleet)
    return tuple(
        VariantConfig(
            name=name,
            weight=weights[name],
            strategy=strategy,
            targets=resolve_pool(targets, successor=successor, moving=moving or {}),
            policy=resolve_policy(policy, policies.get(policy, DEFAULT_POLICY), successor=successor),
        )
        for name, weight, targets, policy, strategy in arms
    )


def _experiment(spec: ModelRouteSpec, fleet: FleetVariants) -> ExperimentConfig | None:
    experiment = spec.experiment
    if experiment is None:
        return None
    guardrails = experiment.guardrails
    return ExperimentConfig(
        name=experiment.name,
        sticky_by=experiment.sticky_by,
        max_error_rate=guardrails.max_error_rate,
        min_requests=guardrails.min_requests,
        max_p95_latency_ms=guardrails.max_p95_latency_ms,
        min_feedback=guardrails.min_feedback,
        max_cost_per_request_usd=guardrails.max_cost_per_request_usd,
        primary_metric=experiment.primary_metric,
        auto_promote=experiment.auto_promote,
        stopped=fleet.stopped,
        winner=fleet.winner,
    )


def resolve_policy(name: str, spec: FallbackPolicySpec, *, successor: Successor) -> PolicyConfig:
    """A policy with its chain's deprecated endpoints replaced and duplicates dropped."""
    degraded = spec.degraded
    return PolicyConfig(
        name=name,
        triggers=tuple(sorted(set(spec.triggers))),
        chain=tuple(_unique(successor(e) for e in spec.chain)),
        connect_ms=spec.timeouts.connect_ms,
        first_token_ms=spec.timeouts.first_token_ms,
        total_ms=spec.timeouts.total_ms,
        retry_attempts=spec.retries.attempts,
        backoff_ms=spec.retries.backoff_ms,
        max_backoff_ms=spec.retries.max_backoff_ms,
        retry_budget_percent=spec.retries.budget_percent,
        hedge_after_ms=spec.hedge.after_ms if spec.hedge else 0,
        degraded=DegradedConfig(
            mode=degraded.mode,
            status=degraded.status,
            body=degraded.body if degraded.body is not None else EMPTY_COMPLETION,
            retry_after_seconds=degraded.retry_after_seconds,
        ),
    )


def resolve_pool(
    targets: Iterable[Target], *, successor: Successor, moving: dict[str, Migrating] | None = None
) -> tuple[TargetConfig, ...]:
    """Targets with replacements applied, equal shares when no weight was given, duplicates merged; an
    endpoint being migrated hands its replacement the migration's share of its weight."""
    targets = list(targets)
    weights: dict[str, float] = {}
    for target in targets:
        share = float(target.weight) if target.weight is not None else 100.0 / len(targets)
        name = successor(target.endpoint)
        migrating = (moving or {}).get(name)
        if migrating is not None and migrating.fraction > 0:
            moved = share * migrating.fraction
            weights[migrating.replacement] = weights.get(migrating.replacement, 0.0) + moved
            share -= moved
            if share <= 0:
                continue  # complete: the endpoint serves none of this pool's traffic
        weights[name] = weights.get(name, 0.0) + share
    return tuple(TargetConfig(endpoint=name, weight=round(weight, 6)) for name, weight in weights.items())


def effective_endpoint(name: str, *, index: ReferenceIndex, usable: set[str], now: datetime) -> str:
    """Follow replacements of endpoints whose sunset has passed (cycles were refused earlier)."""
    seen = {name}
    while True:
        deprecation = index.endpoints[name].spec.deprecation
        if deprecation is None or deprecation.sunset is None or deprecation.sunset > now:
            return name
        replacement = deprecation.replacement or name
        if replacement in seen or replacement not in usable:
            return name
        seen.add(replacement)
        name = replacement


def window_seconds(window: str) -> int:
    """'90s', '15m', '1h', '7d' -> seconds."""
    return int(window[:-1]) * _WINDOW_UNITS[window[-1]]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
