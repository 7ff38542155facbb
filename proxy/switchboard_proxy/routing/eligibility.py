"""Eligibility filters: which endpoints may serve a request right now, and a reason for each that may not.

Every filter has the shape `(request, candidates, context) -> (kept, rejections)` and they run in the
order of `FILTERS`; each is built from a per-endpoint check of `CHECKS`, which `filter_eligible` runs in
one pass on the hot path. The reasons are a closed set of short stable words (`Reason`): they appear in
`switchboard explain`, in `X-Switchboard-Fallback-Reason` and in logs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from switchboard_proxy.config import EndpointConfig

from .protocols import is_embedding_model, serves
from .reasons import Reason, Rejection
from .request import RouteRequest
from .state import RouterState


class FilterContext(NamedTuple):
    """What filters read besides the request: live state and the deadline left."""

    state: RouterState
    deadline_ms: int


Filter = Callable[
    [RouteRequest, Sequence[EndpointConfig], FilterContext], tuple[list[EndpointConfig], list[Rejection]]
]


def _keep_if(
    candidates: Sequence[EndpointConfig], check: Callable[[EndpointConfig], tuple[Reason, str] | None]
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


Check = Callable[[RouteRequest, EndpointConfig, FilterContext], "tuple[Reason, str] | None"]


def check_protocol(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """The endpoint must serve the request's API, natively or translated (routing.protocols; embedding
    models only embeddings)."""
    if serves(endpoint, request.api):
        return None
    if is_embedding_model(endpoint):
        return Reason.PROTOCOL, f"an embedding model cannot serve {request.api}"
    return Reason.PROTOCOL, f"{endpoint.provider} cannot serve {request.api}"


def check_capability(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """The endpoint must declare every capability the request needs (tools, json, vision, ...)."""
    if not request.needs:
        return None
    missing = sorted(request.needs - set(endpoint.capabilities))
    return (Reason.CAPABILITY, "lacks " + ", ".join(missing)) if missing else None


def check_context_window(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """Estimated prompt plus requested output must fit the window; the output cap must fit too."""
    needed = request.prompt_tokens + request.max_tokens
    if needed > endpoint.context_window_tokens:
        return Reason.CONTEXT_WINDOW, f"needs ~{needed} tokens, window {endpoint.context_window_tokens}"
    if request.max_tokens > endpoint.max_output_tokens:
        return Reason.MAX_OUTPUT, f"max_tokens {request.max_tokens} > {endpoint.max_output_tokens}"
    return None


def check_circuit(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """Open circuits are skipped; a half-open one is kept so that a probe can close it."""
    if context.state.of(endpoint.name).circuit == "open":
        return Reason.CIRCUIT_OPEN, "recent consecutive failures"
    return None


def check_limits(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """Endpoints whose concurrency or rate limit refuses new work now are skipped."""
    limited = context.state.of(endpoint.name).limited
    return (limited, "per-endpoint limit reached") if limited else None


def check_deadline(
    request: RouteRequest, endpoint: EndpointConfig, context: FilterContext
) -> tuple[Reason, str] | None:
    """Endpoints whose measured latency exceeds the deadline cannot meet it; unmeasured ones are tried."""
    expected = context.state.of(endpoint.name).expected_ms(stream=request.stream)
    if expected > context.deadline_ms:
        return Reason.DEADLINE, f"expected {expected:.0f} ms > deadline {context.deadline_ms} ms"
    return None


# In order: the first check that refuses an endpoint gives its reason. Static checks come first, so an
# endpoint that could never serve the request says so even while its circuit is open.
CHECKS: tuple[Check, ...] = (
    check_protocol,
    check_capability,
    check_context_window,
    check_circuit,
    check_limits,
    check_deadline,
)


def as_filter(check: Check) -> Filter:
    """One check as a filter over a list of candidates."""

    def apply(
        request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
    ) -> tuple[list[EndpointConfig], list[Rejection]]:
        return _keep_if(candidates, lambda endpoint: check(request, endpoint, context))

    apply.__doc__ = check.__doc__
    return apply


FILTERS: tuple[Filter, ...] = tuple(as_filter(check) for check in CHECKS)


def filter_eligible(
    request: RouteRequest, candidates: Sequence[EndpointConfig], context: FilterContext
) -> tuple[list[EndpointConfig], list[Rejection]]:
    """Every check of CHECKS in order, in one pass per endpoint; the first that refuses gives the reason.

    The same result as running FILTERS one after the other, without a list per filter per request.
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
