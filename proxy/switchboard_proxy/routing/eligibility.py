"""Eligibility filters: which endpoints may serve a request right now, and a reason for each that may not.

Every filter has the shape `(request, candidates, context) -> (kept, rejections)` and they run in the
order of `FILTERS`; each is built from a per-endpoint check of `CHECKS`, which `filter_eligible` runs in
one pass on the hot path. The reasons are short stable words: they appear in `switchboard explain`, in
`X-Switchboard-Fallback-Reason` and in logs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

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


class Rejection(NamedTuple):
    """Why one endpoint was not planned."""

    endpoint: str
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.reason} ({self.detail})"


class FilterContext(NamedTuple):
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


Check = Callable[[RouteRequest, EndpointConfig, FilterContext], "tuple[str, str] | None"]


def check_protocol(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """The endpoint must speak the request's API (no cross-protocol translation)."""
    if endpoint.provider in PROVIDERS_FOR_API[request.api]:
        return None
    return "protocol", f"{endpoint.provider} cannot serve {request.api}"


def check_capability(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """The endpoint must declare every capability the request needs (tools, json, vision, ...)."""
    if not request.needs:
        return None
    missing = sorted(request.needs - set(endpoint.capabilities))
    return ("capability", "lacks " + ", ".join(missing)) if missing else None


def check_context_window(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """Estimated prompt plus requested output must fit the window; the output cap must fit too."""
    needed = request.prompt_tokens + request.max_tokens
    if needed > endpoint.context_window_tokens:
        return "context-window", f"needs ~{needed} tokens, window {endpoint.context_window_tokens}"
    if request.max_tokens > endpoint.max_output_tokens:
        return "max-output", f"max_tokens {request.max_tokens} > {endpoint.max_output_tokens}"
    return None


def check_circuit(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """Open circuits are skipped; a half-open one is kept so that a probe can close it."""
    if context.state.of(endpoint.name).circuit == "open":
        return "circuit-open", "recent consecutive failures"
    return None


def check_limits(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """Endpoints whose concurrency or rate limit refuses new work now are skipped."""
    limited = context.state.of(endpoint.name).limited
    return (limited, "per-endpoint limit reached") if limited else None


def check_deadline(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """Endpoints whose measured latency exceeds the deadline cannot meet it; unmeasured ones are tried."""
    expected = context.state.of(endpoint.name).expected_ms(stream=request.stream)
    if expected > context.deadline_ms:
        return "deadline", f"expected {expected:.0f} ms > deadline {context.deadline_ms} ms"
    return None


def check_live(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[str, str] | None:
    """check_circuit, check_limits and check_deadline in that order, reading the live state once."""
    live = context.state.of(endpoint.name)
    if live.circuit == "open":
        return "circuit-open", "recent consecutive failures"
    if live.limited:
        return live.limited, "per-endpoint limit reached"
    expected = live.ttft_ms if request.stream and live.ttft_ms > 0 else live.latency_ms
    if expected > context.deadline_ms:
        return "deadline", f"expected {expected:.0f} ms > deadline {context.deadline_ms} ms"
    return None


# In order: the first check that refuses an endpoint gives its reason (check_live stands for the last
# three filters, fused because each would otherwise look the endpoint's live state up again).
CHECKS: tuple[Check, ...] = (check_protocol, check_capability, check_context_window, check_live)


def _filter(check: Check) -> Filter:
    def apply(
        request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
    ) -> tuple[list[EndpointConfig], list[Rejection]]:
        return _keep_if(candidates, lambda endpoint: check(request, endpoint, context))

    apply.__doc__ = check.__doc__
    return apply


by_protocol = _filter(check_protocol)
by_capability = _filter(check_capability)
by_context_window = _filter(check_context_window)
by_circuit = _filter(check_circuit)
by_limits = _filter(check_limits)
by_deadline = _filter(check_deadline)

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
    """Every check in order, in one pass per endpoint; the first check that refuses it gives the reason.

    Same result as running the FILTERS one after the other, without a list per filter per request.
    """
    kept: list[EndpointConfig] = []
    rejections: list[Rejection] = []
    for endpoint in candidates:
        for check in CHECKS:
            verdict = check(request, endpoint, context)
            if verdict is not None:
                rejections.append(Rejection(endpoint.name, *verdict))
                break
        else:
            kept.append(endpoint)
    return kept, rejections
