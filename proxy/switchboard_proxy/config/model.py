"""`RouterConfig`: the compiled config, the only contract between control plane and data plane.

Written by `compile()` (operator, CLI, local mode) as JSON into ConfigMap `switchboard-config`, read by the
sidecar. Everything is resolved: references point at entries of the same config, defaults are applied,
units are in the names. `None` only ever means "this feature is off" (no budget, no shadow, no
experiment). Key material never appears here: `ApiKeyConfig` says where the sidecar finds the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .endpoint_spec import Capability, Provider
from .experiment_spec import PrimaryMetric, StickyBy
from .policy_spec import DegradedMode, Trigger
from .pool_spec import Strategy
from .route_spec import Affinity, BudgetAction, Priority

SCHEMA_VERSION = 1
DEFAULT_VARIANT = "default"


class CompiledModel(BaseModel):
    """Base of the compiled models: immutable, unknown fields refused (a newer operator fails loudly)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiKeyConfig(CompiledModel):
    """Where the sidecar reads an endpoint's key; the key itself is never in the config."""

    source: Literal["none", "env", "file"] = Field(
        description="none: send no key; env: read environment variable `name`; file: read "
        "`<credentials dir>/<name>` (Secret switchboard-credentials in a cluster)."
    )
    name: str = Field(default="", description="Environment variable or credentials file name. Example: chat.")


class BreakerConfig(CompiledModel):
    """Circuit breaker settings of one endpoint (the most protective of the policies using it)."""

    consecutive_failures: int = Field(description="Consecutive upstream failures that open the circuit.")
    open_seconds: float = Field(description="Seconds open before a half-open probe.")


class EndpointConfig(CompiledModel):
    """One upstream model, fully resolved."""

    name: str = Field(description="ModelEndpoint name. Example: small-fast.")
    provider: Provider = Field(description="openai | anthropic | azure-openai.")
    url: str = Field(description="Base URL without a trailing slash. Example: http://vllm:8000/v1.")
    model: str = Field(description="Model id (deployment for azure-openai) sent upstream.")
    api_version: str = Field(description="azure-openai api-version; empty for other providers.")
    api_key: ApiKeyConfig = Field(description="Where the key is read from.")
    input_per_mtok_usd: float = Field(description="USD per million prompt tokens.")
    output_per_mtok_usd: float = Field(description="USD per million completion tokens.")
    cached_input_per_mtok_usd: float = Field(description="USD per million cached prompt tokens.")
    cache_write_per_mtok_usd: float = Field(
        default=0.0, description="USD per million prompt tokens written to the prompt cache."
    )
    context_window_tokens: int = Field(description="Most prompt plus completion tokens.")
    max_output_tokens: int = Field(description="Most completion tokens per request.")
    capabilities: tuple[Capability, ...] = Field(description="Sorted capability names.")
    max_concurrency: int = Field(description="Requests in flight per sidecar; 0 = unlimited.")
    adaptive_concurrency: bool = Field(
        description="An adaptive limit (at most max_concurrency) admits; false: max_concurrency does."
    )
    max_queue: int = Field(description="Requests that may wait for a slot per sidecar; 0 = none.")
    requests_per_minute: int = Field(description="Request rate limit; 0 = unlimited.")
    requests_burst: int = Field(description="Capacity of the requests bucket (0 when unlimited).")
    tokens_per_minute: int = Field(description="Token rate limit; 0 = unlimited.")
    tokens_burst: int = Field(description="Capacity of the tokens bucket (0 when unlimited).")
    breaker: BreakerConfig = Field(description="Circuit breaker of this endpoint.")
    deprecated: bool = Field(description="True when the resource declares a deprecation.")
    sunset: datetime | None = Field(
        description="When its traffic moves to `replacement`; None = not planned."
    )
    replacement: str = Field(description="Endpoint that takes over after the sunset; empty when none.")


class DegradedConfig(CompiledModel):
    """The response when nothing could serve."""

    mode: DegradedMode = Field(description="static | error.")
    status: int = Field(description="HTTP status of a static response.")
    body: dict[str, Any] = Field(description="JSON body of a static response.")
    retry_after_seconds: int = Field(description="Retry-After of the mode-error 503.")


class PolicyConfig(CompiledModel):
    """A resolved FallbackPolicy (name empty for the built-in default)."""

    name: str = Field(description="FallbackPolicy name; empty for the built-in default.")
    triggers: tuple[Trigger, ...] = Field(description="Failures that move to the next attempt.")
    chain: tuple[str, ...] = Field(description="Endpoints after the primary pool, in order.")
    connect_ms: int = Field(description="Per-attempt connect timeout in ms.")
    first_token_ms: int = Field(description="Per-attempt first-chunk timeout in ms (streams).")
    total_ms: int = Field(description="Per-attempt total timeout in ms.")
    retry_attempts: int = Field(description="Same-endpoint retries after the first try.")
    backoff_ms: int = Field(description="First retry backoff in ms (doubles, full jitter).")
    max_backoff_ms: int = Field(description="Cap on one backoff in ms.")
    retry_budget_percent: int = Field(description="Retries allowed as a percentage of recent requests.")
    hedge_after_ms: int = Field(description="Start a hedged attempt after this many ms; 0 = no hedging.")
    degraded: DegradedConfig = Field(description="Response when every attempt failed.")


class TargetConfig(CompiledModel):
    """One endpoint of a primary pool with its weight (equal shares when the user gave none)."""

    endpoint: str = Field(description="Endpoint name, a key of RouterConfig.endpoints.")
    weight: float = Field(description="Relative weight for the weighted strategy; weights sum to 100.")


class VariantConfig(CompiledModel):
    """A routing configuration: a route without an experiment has exactly one, named `default`."""

    name: str = Field(description="Variant name. Example: candidate.")
    weight: int = Field(description="Percent of sticky keys assigned to this variant.")
    strategy: Strategy = Field(description="How the primary pool is ordered.")
    targets: tuple[TargetConfig, ...] = Field(description="The primary pool.")
    policy: PolicyConfig = Field(description="The resolved fallback policy.")


class ExperimentConfig(CompiledModel):
    """An A/B experiment of one route."""

    name: str = Field(description="Experiment name, part of the assignment hash.")
    sticky_by: StickyBy = Field(description="user | request.")
    max_error_rate: float = Field(description="Guardrail: highest tolerated error rate of a variant.")
    min_requests: int = Field(description="Guardrail: requests before the error rate is judged.")
    max_p95_latency_ms: int | None = Field(default=None, description="Fleet guardrail; None = off.")
    min_feedback: float | None = Field(default=None, description="Fleet guardrail; None = off.")
    max_cost_per_request_usd: float | None = Field(default=None, description="Fleet guardrail; None = off.")
    primary_metric: PrimaryMetric = Field(
        default="error-rate", description="What the operator's test judges."
    )
    auto_promote: bool = Field(default=False, description="Winner compiled to 100% once concluded.")
    stopped: tuple[str, ...] = Field(
        default=(), description="Variants the operator's fleet guardrails stopped (compiled at weight 0)."
    )
    winner: str = Field(default="", description="Variant promoted to 100% by the operator; empty if none.")


class PriorConfig(CompiledModel):
    """Belief in one endpoint's quality on a route: declared prior plus the fleet's evidence so far."""

    endpoint: str = Field(description="Endpoint name.")
    mean: float = Field(description="Expected quality, 0..1.")
    weight: float = Field(description="Evidence behind it, in requests (prior weight + observations).")


class ExploreConfig(CompiledModel):
    """Thompson sampling over a route's targets (strategy explore)."""

    cost_weight: float = Field(description="Weight of normalised cost against quality in the reward.")
    max_explore_percent: float = Field(description="Most percent of requests off the posterior's best.")
    priors: tuple[PriorConfig, ...] = Field(description="One per endpoint of the route's pools, sorted.")


class BudgetConfig(CompiledModel):
    """Spend limit of a route per window."""

    usd: float = Field(description="US dollars per window.")
    window_seconds: int = Field(description="Window length in seconds.")
    action: BudgetAction = Field(description="cheapest | reject.")


class ShadowConfig(CompiledModel):
    """Mirrored traffic to a candidate endpoint."""

    endpoint: str = Field(description="Endpoint receiving mirrored requests.")
    percent: float = Field(description="Percent of requests mirrored.")


class RouteConfig(CompiledModel):
    """A resolved ModelRoute."""

    name: str = Field(description="Route name; also matched against the request's model.")
    task_types: tuple[str, ...] = Field(description="X-Switchboard-Task values served.")
    models: tuple[str, ...] = Field(description="Extra request model names served.")
    is_default: bool = Field(description="Catches unmatched requests.")
    priority: Priority = Field(description="critical | standard | sheddable.")
    deadline_ms: int = Field(description="Deadline when the caller sends none, in ms.")
    adaptive_concurrency: bool = Field(
        description="Its requests are held to the endpoints' adaptive limits; false: maxConcurrency only."
    )
    variants: tuple[VariantConfig, ...] = Field(description="At least one; the first is the control.")
    experiment: ExperimentConfig | None = Field(description="None when the route runs no experiment.")
    budget: BudgetConfig | None = Field(description="None when the route has no budget.")
    shadow: ShadowConfig | None = Field(description="None when nothing is mirrored.")
    affinity: Affinity = Field(
        default="none", description="session: a session key keeps going to one endpoint of the pool."
    )
    explore: ExploreConfig | None = Field(
        default=None, description="None unless the route or a variant uses strategy explore."
    )


class RouterConfig(CompiledModel):
    """Everything one sidecar needs, with a content hash `version`."""

    schema_version: int = Field(default=SCHEMA_VERSION, description="Format version of this document.")
    version: str = Field(description="Content hash of everything else; changes iff the config changes.")
    namespace: str = Field(description="Namespace compiled; empty in local mode.")
    endpoints: dict[str, EndpointConfig] = Field(description="Endpoints by name.")
    routes: dict[str, RouteConfig] = Field(description="Routes by name.")
    default_route: str = Field(description="Name of the default route; empty when none.")
    task_routes: dict[str, str] = Field(description="Task type -> route name.")
    model_routes: dict[str, str] = Field(description="Request model name -> route name (route names too).")
