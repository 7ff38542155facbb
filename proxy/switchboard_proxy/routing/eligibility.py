"""Eligibility filters: which endpoints may serve a request right now, and a reason for each that may not.

Every filter has the shape `(request, candidates, context) -> (kept, rejections)` and they run in the
order of `FILTERS`. The reasons are short stable words: they appear in `switchboard explain`, in
`X-Switchboard-Fallback-Reason` and in logs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard_proxy.config import EndpointConfig

from .request import RouteRequest
from .state import RouterState

# Which wire protocols can serve which API without translation.
PROVIDERS_FOR_API: dict[str, frozenset[str]] = {
    "chat": frozenset({"openai", "azure-openai"}),
    "completions": frozenset({"openai", "azure-openai"}),
    "embeddings": frozenset({"openai", "azure-openai"}),
    "messages": frozenset({"anthropic"}),
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one endpoint was not planned."""

    endpoint: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.reason} ({self.detail})"


@dataclass(frozen=True, slots=True)
class FilterContext:
    """What filters read besides the request: live state and the deadline left."""

    state: RouterState
    deadline_ms: int


Filter = Callable[
    [RouteRequest, Sequence[EndpointConfig], FilterContext], tuple[list[EndpointConfig], list[Rejection]]
]


def _keep_if(
    candidates: Sequence[EndpointConfig], check: Callable[[EndpointConfig], tuple[str, str] | None]
) -> tuple[list[EndpointConfig], list[Rejection]]:
    kept: list[EndpointConfig] = []
    rejections: list[Rejection] = []
    for endpoint in candidates:
        verdict = check(endpoint)
        if verdict is None:
            kept.append(endpoint)
        else:
            rejections.append(Rejection(endpoint.name, *verdict))
    return kept, rejections


def by_protocol(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """The endpoint must speak the request's API (no cross-protocol translation)."""
    allowed = PROVIDERS_FOR_API[request.api]
    return _keep_if(
        candidates,
        lambda e: None if e.provider in allowed else ("protocol", f"{e.provider} cannot serve {request.api}"),
    )


def by_capability(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """The endpoint must declare every capability the request needs (tools, json, vision, ...)."""

    def check(endpoint: EndpointConfig) -> tuple[str, str] | None:
        missing = sorted(request.needs - set(endpoint.capabilities))
        return ("capability", "lacks " + ", ".join(missing)) if missing else None

    return _keep_if(candidates, check)


def by_context_window(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Estimated prompt plus requested output must fit the window; the output cap must fit too."""

    def check(endpoint: EndpointConfig) -> tuple[str, str] | None:
        needed = request.prompt_tokens + request.max_tokens
        if needed > endpoint.context_window_tokens:
            return "context-window", f"needs ~{needed} tokens, window {endpoint.context_window_tokens}"
        if request.max_tokens > endpoint.max_output_tokens:
            return "max-output", f"max_tokens {request.max_tokens} > {endpoint.max_output_tokens}"
        return None

    return _keep_if(candidates, check)


def by_circuit(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Open circuits are skipped; a half-open one is kept so that a probe can close it."""
    return _keep_if(
        candidates,
        lambda e: (
            ("circuit-open", "recent consecutive failures")
            if context.state.of(e.name).circuit == "open"
            else None
        ),
    )


def by_limits(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Endpoints whose concurrency or rate limit refuses new work now are skipped."""

    def check(endpoint: EndpointConfig) -> tuple[str, str] | None:
        limited = context.state.of(endpoint.name).limited
        return (limited, "per-endpoint limit reached") if limited else None

    return _keep_if(candidates, check)


def by_deadline(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Endpoints whose measured latency exceeds the deadline cannot meet it; unmeasured ones are tried."""

    def check(endpoint: EndpointConfig) -> tuple[str, str] | None:
        expected = context.state.of(endpoint.name).expected_ms(stream=request.stream)
        if expected > context.deadline_ms:
            return "deadline", f"expected {expected:.0f} ms > deadline {context.deadline_ms} ms"
        return None

    return _keep_if(candidates, check)


FILTERS: tuple[Filter, ...] = (
    by_protocol,
    by_capability,
    by_context_window,
    by_circuit,
    by_limits,
    by_deadline,
)


def filter_eligible(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Run every filter in order; an endpoint is rejected by the first filter that refuses it."""
    kept = list(candidates)
    rejections: list[Rejection] = []
    for check in FILTERS:
        kept, rejected = check(request, kept, context)
        rejections.extend(rejected)
    return kept, rejections
