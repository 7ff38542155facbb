"""`FallbackPolicy.spec`: how a route fails over, as users write it.

Triggers, per-attempt timeouts, retries with a retry budget, the circuit breaker, hedging and the degraded
response. `compiling.compile()` resolves the chain and fills every default; the executor reads the compiled
`PolicyConfig`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .spec_base import ResourceName, SpecModel, cel_rules, list_type

Trigger = Literal["connect-error", "timeout", "server-error", "rate-limited", "overloaded", "context-length"]
ALL_TRIGGERS: tuple[Trigger, ...] = (
    "connect-error",
    "timeout",
    "server-error",
    "rate-limited",
    "overloaded",
    "context-length",
)
DegradedMode = Literal["static", "error"]
# Said wherever a policy still carries the old field name (pydantic, CEL, the loader, the operator's status).
RENAMED_ON = (
    "`on` was renamed to `triggers`: write `triggers: [...]` (YAML 1.1 reads a bare `on:` key as true)"
)

# An empty assistant message: what a static degraded response says when the policy gives no body. Editors
# treat it as "no suggestion", which is the right thing for tab completion during an outage.
EMPTY_COMPLETION: dict[str, Any] = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]
}


class Timeouts(SpecModel):
    """Per-attempt timeouts in milliseconds; the caller's deadline bounds them all."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            ("self.connectMs <= self.totalMs", "connectMs must not exceed totalMs", ".connectMs"),
            ("self.firstTokenMs <= self.totalMs", "firstTokenMs must not exceed totalMs", ".firstTokenMs"),
        )
    }

    connect_ms: int = Field(
        default=1000,
        ge=1,
        le=600_000,
        description="Milliseconds to open the TCP/TLS connection. Default 1000. Example: 300.",
    )
    first_token_ms: int = Field(
        default=10_000,
        ge=1,
        le=3_600_000,
        description="Milliseconds to wait for the first streamed chunk (streams only). Default 10000. "
        "Example: 1500.",
    )
    total_ms: int = Field(
        default=60_000,
        ge=1,
        le=3_600_000,
        description="Milliseconds for the whole attempt; bounds a non-streamed attempt. Default 60000. "
        "Example: 30000.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Timeouts:
        if self.connect_ms > self.total_ms:
            raise ValueError("connectMs must not exceed totalMs")
        if self.first_token_ms > self.total_ms:
            raise ValueError("firstTokenMs must not exceed totalMs")
        return self


class Retries(SpecModel):
    """Retries of the same endpoint before moving down the chain."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            ("self.backoffMs <= self.maxBackoffMs", "backoffMs must not exceed maxBackoffMs", ".backoffMs"),
        )
    }

    attempts: int = Field(
        default=1,
        ge=0,
        le=10,
        description="Retries of the same endpoint after its first try. Default 1. Example: 2.",
    )
    backoff_ms: int = Field(
        default=50,
        ge=0,
        le=60_000,
        description="First backoff in milliseconds, doubled per retry, with full jitter. Default 50.",
    )
    max_backoff_ms: int = Field(
        default=1000,
        ge=0,
        le=600_000,
        description="Cap on one backoff in milliseconds. Default 1000. Example: 2000.",
    )
    budget_percent: int = Field(
        default=20,
        ge=0,
        le=100,
        description="Retries allowed as a percentage of recent requests, so an outage cannot multiply "
        "upstream load. Default 20. Example: 10.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Retries:
        if self.backoff_ms > self.max_backoff_ms:
            raise ValueError("backoffMs must not exceed maxBackoffMs")
        return self


class CircuitBreaker(SpecModel):
    """Stops sending to an endpoint after consecutive real upstream failures; a probe closes it again."""

    consecutive_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Consecutive failures that open the circuit. Default 5. Example: 3.",
    )
    open_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds the circuit stays open before a half-open probe. Default 30. Example: 10.",
    )


class Hedge(SpecModel):
    """Starts a second attempt when the first is slow; the first to answer wins."""

    after_ms: int = Field(
        ge=1,
        le=600_000,
        description="Milliseconds without a first token before the hedge starts. Example: 250.",
    )


class Degraded(SpecModel):
    """What the caller gets when every attempt failed or the deadline ran out."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            ("self.mode == 'static' || !has(self.body)", "body applies only to mode static", ".body"),
        )
    }

    mode: DegradedMode = Field(
        default="error",
        description="static: answer `status` with `body`; error: 503 with Retry-After. Default error.",
    )
    status: int = Field(
        default=200,
        ge=200,
        le=599,
        description="HTTP status of a static degraded response. Default 200.",
    )
    body: dict[str, Any] | None = Field(
        default=None,
        description="JSON body of a static degraded response. Default: an empty assistant message.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    retry_after_seconds: int = Field(
        default=2,
        ge=0,
        le=3600,
        description="Retry-After seconds on the mode-error 503. Default 2.",
    )

    @model_validator(mode="after")
    def _body_only_when_static(self) -> Degraded:
        if self.body is not None and self.mode != "static":
            raise ValueError("body applies only to mode static")
        return self


class FallbackPolicySpec(SpecModel):
    """How a route fails over: triggers, timeouts, retries, circuit breaking, hedging, degraded mode."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel_rules(
            (
                "!has(self.hedge) || self.hedge.afterMs < self.timeouts.firstTokenMs",
                "hedge.afterMs must be shorter than timeouts.firstTokenMs",
                ".hedge.afterMs",
            ),
            ("!has(self.on)", RENAMED_ON, ".on"),
        )
    }

    chain: list[ResourceName] = Field(
        default_factory=list,
        max_length=16,
        description="Endpoints tried in order after the route's primary pool is exhausted. "
        "Example: [medium, frontier].",
        json_schema_extra=list_type("set"),
    )
    triggers: list[Trigger] = Field(
        default_factory=lambda: list(ALL_TRIGGERS),
        max_length=6,
        description="Failures that move to the next attempt: connect-error, timeout, server-error, "
        "rate-limited, overloaded, context-length. Default: all of them. Example: [timeout, server-error].",
        json_schema_extra=list_type("set"),
    )
    # Kept in the schema only to refuse it by name: dropped silently (pruned), a stored policy that still
    # says `on` would widen to the default triggers without anyone noticing.
    renamed_on: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None,
        alias="on",
        max_length=6,
        description="Deprecated and refused: renamed to `triggers`, because kubectl's YAML 1.1 reads a bare "
        "`on:` key as the boolean true.",
    )
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Per-attempt timeouts.")
    retries: Retries = Field(default_factory=Retries, description="Same-endpoint retries and retry budget.")
    circuit_breaker: CircuitBreaker = Field(
        default_factory=CircuitBreaker, description="Per-endpoint circuit breaker, shared by all routes."
    )
    hedge: Hedge | None = Field(default=None, description="Optional hedged second attempt.")
    degraded: Degraded = Field(default_factory=Degraded, description="Response when nothing could serve.")

    @model_validator(mode="after")
    def _no_on(self) -> FallbackPolicySpec:
        if self.renamed_on is not None:
            raise ValueError(RENAMED_ON)
        return self

    @model_validator(mode="after")
    def _hedge_before_first_token_timeout(self) -> FallbackPolicySpec:
        if self.hedge is not None and self.hedge.after_ms >= self.timeouts.first_token_ms:
            raise ValueError("hedge.afterMs must be shorter than timeouts.firstTokenMs")
        return self
