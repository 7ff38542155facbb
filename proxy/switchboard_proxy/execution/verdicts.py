"""What `execute()` returns: one verdict per request, and the trail of attempts behind it.

    Verdict
    ├── ServedJson         an endpoint answered; the body goes to the client as it is
    ├── ServedStream       an endpoint's stream is servable; its StreamBody yields the bytes
    ├── PassThrough        the upstream refused the request itself (a 4xx); its words go back
    ├── UpstreamError      a failure the policy does not fail over on (502 / 429 / 503 / 504)
    ├── Shed               refused by the sidecar's own overload protection: no slot, no room in the
    │                      queue, or its deadline could not be met waiting (503 overloaded, Retry-After)
    ├── Throttled          refused by the sidecar's own rate limits (429 rate_limited, Retry-After)
    ├── BudgetExhausted    the route's budget cannot cover it and its action is `reject` (429, Retry-After)
    ├── DeadlineExceeded   the deadline ran out and the policy's degraded mode is `error` (504)
    ├── Degrade            every attempt failed: the policy's degraded answer (static, or a 503)
    └── Unservable         no endpoint of the route could ever serve this request (400)

`server/` maps each one to HTTP and writes its bytes; it reads no upstream and touches no breaker.
Verdicts are NamedTuples: immutable, and the cheapest objects Python builds (one per request).
"""

from __future__ import annotations

from typing import NamedTuple

from ..accounting.usage import Usage
from ..routing import Plan
from .classify import Failure
from .outcomes import AttemptRecord
from .relaying import StreamBody


class Trail(NamedTuple):
    """Every planned attempt's record, why the first choice did not serve ('' when it did), and how
    many attempts were actually sent upstream."""

    records: tuple[AttemptRecord, ...] = ()
    fallback_reason: str = ""
    sent: int = 0


class ServedJson(NamedTuple):
    trail: Trail
    endpoint: str
    body: bytes
    usage: Usage
    cost_usd: float
    finish_reason: str
    output_empty: bool
    usage_estimated: bool = False  # the upstream reported no usage; `usage` is the sidecar's estimate


class ServedStream(NamedTuple):
    trail: Trail
    endpoint: str
    body: StreamBody
    first_byte: float  # event-loop time the first event arrived


class PassThrough(NamedTuple):
    trail: Trail
    endpoint: str
    status: int
    body: bytes  # the upstream's error document, any endpoint key scrubbed


class UpstreamError(NamedTuple):
    trail: Trail
    failure: Failure
    retry_after: float | None
    summary: str


class Shed(NamedTuple):
    trail: Trail
    retry_after: int = 1
    reason: str = "shed"  # the refusal: shed, queue-deadline, concurrency-limit


class Throttled(NamedTuple):
    trail: Trail
    retry_after: int = 1
    reason: str = "rate-limit"  # rate-limit | token-rate-limit


class BudgetExhausted(NamedTuple):
    trail: Trail
    retry_after: int


class DeadlineExceeded(NamedTuple):
    trail: Trail
    summary: str


class Degrade(NamedTuple):
    trail: Trail
    static: bool  # the policy's static answer; else a 503 listing what failed
    summary: str


class Unservable(NamedTuple):
    trail: Trail
    code: str  # unsupported_by_route | context_length_exceeded
    message: str
    param: str | None


Verdict = (
    ServedJson
    | ServedStream
    | PassThrough
    | UpstreamError
    | Shed
    | Throttled
    | BudgetExhausted
    | DeadlineExceeded
    | Degrade
    | Unservable
)


def served_by(verdict: Verdict) -> str:
    """The endpoint whose answer the client gets ('' when none: an error of ours, or degraded)."""
    if isinstance(verdict, ServedJson | ServedStream | PassThrough):
        return verdict.endpoint
    return ""


def fallback_reason(plan: Plan, records: tuple[AttemptRecord, ...], served_by: str) -> str:
    """Why the first choice did not serve ('' when it did): its outcome, or why the planner skipped it."""
    first_planned = plan.attempts[0].endpoint if plan.attempts else ""
    if first_planned and served_by != first_planned:
        first = next((r for r in records if r.endpoint == first_planned), None)
        return str(first.outcome) if first is not None else "unavailable"
    if plan.attempts and plan.attempts[0].stage == "fallback" and plan.rejections:
        return str(plan.rejections[0].reason)
    return ""


def failure_reason(plan: Plan, records: tuple[AttemptRecord, ...]) -> str:
    """The first thing that went wrong, in one word, for a request that nothing served."""
    if records:
        return str(records[0].outcome)
    return str(plan.rejections[0].reason) if plan.rejections else "no-eligible-endpoint"


def failure_summary(plan: Plan, records: tuple[AttemptRecord, ...]) -> str:
    """'capable: timeout; cheap: server-error (HTTP 500); embed: protocol (...)'."""
    parts = [f"{r.endpoint}: {r.outcome}" + (f" (HTTP {r.status})" if r.status else "") for r in records]
    parts += [str(rejection) for rejection in plan.rejections]
    return "; ".join(parts) or "no endpoint of the route can serve this request"
