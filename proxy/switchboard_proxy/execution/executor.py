"""`execute(plan, run) -> Verdict`: walk the planner's attempts inside one deadline, then say what it came to.

The walk itself (retries, backoff, hedging, failover, admission) is `walking.Walk`; this module turns its
result into one of the verdicts of `verdicts.py`:
- a servable answer: ServedJson, or ServedStream whose body owns the upstream stream and its lease;
- a failure that ends the walk: the client's own mistake passed through, or an UpstreamError;
- refused by the sidecar's own protection (and not failed over, or nothing else left): Shed (overload),
  Throttled (its rate limits) or BudgetExhausted (a `reject` budget that cannot cover the attempt);
- nothing left: DeadlineExceeded, or the policy's Degrade (never a static body for embeddings);
- before any walk: BudgetExhausted for a route over its budget, and Unservable when no endpoint of the
  route could ever serve the request's API, capability or size (retrying could not help).
"""

from __future__ import annotations

from ..accounting.usage import cost_usd
from ..routing import Plan
from ..routing.reasons import STATIC_REASONS, TOO_LARGE_REASONS
from ..routing.request import Api
from .attempts import AttemptFailed, Ready
from .classify import Failure
from .outcomes import REFUSAL_TRIGGERS, AttemptRecord, Ended, Refusal
from .relaying import StreamBody
from .runtime import RoutingTable
from .verdicts import (
    BudgetExhausted,
    DeadlineExceeded,
    Degrade,
    PassThrough,
    ServedJson,
    ServedStream,
    Shed,
    Throttled,
    Trail,
    Unservable,
    UpstreamError,
    Verdict,
    failure_reason,
    failure_summary,
    fallback_reason,
)
from .walking import Execution, Walk

# The request field a context-length error is about, per API.
PROMPT_PARAM: dict[Api, str] = {
    "chat": "messages",
    "messages": "messages",
    "completions": "prompt",
    "embeddings": "input",
    "responses": "input",
}
_UPSTREAM_ERROR_BODY = (
    b'{"error": {"message": "upstream error", "type": "upstream_error", "code": null, "param": null}}'
)


async def execute(plan: Plan, run: Execution) -> Verdict:
    """Walk `plan.attempts` and return what the request gets."""
    if plan.refusal == "budget-exhausted":
        account = run.table.budgets.get(plan.route.name)
        return BudgetExhausted(Trail(), retry_after=account.seconds_left() if account is not None else 60)
    if not plan.attempts:
        unservable = unservable_verdict(plan, run.call.api)
        if unservable is not None:
            return unservable
    walk = Walk(plan, run)
    served = await walk.run_plan()
    records = tuple(walk.records)
    if served is not None:
        return _served(plan, run, served, walk, records)
    return _unserved(plan, run, walk, records)


def unservable_verdict(plan: Plan, api: Api) -> Unservable | None:
    """An Unservable verdict when every endpoint of the route was ruled out for good (not an outage)."""
    reasons = {rejection.reason for rejection in plan.rejections}
    if not reasons or not reasons <= STATIC_REASONS:
        return None
    details = "; ".join(str(rejection) for rejection in plan.rejections)
    if reasons <= TOO_LARGE_REASONS:
        message = f"the request does not fit any endpoint of route '{plan.route.name}': {details}"
        return Unservable(Trail(), "context_length_exceeded", message, PROMPT_PARAM[api])
    message = f"no endpoint of route '{plan.route.name}' can serve this {api} request: {details}"
    return Unservable(Trail(), "unsupported_by_route", message, None)


def _served(
    plan: Plan, run: Execution, served: Ready, walk: Walk, records: tuple[AttemptRecord, ...]
) -> Verdict:
    name = served.endpoint.config.name
    trail = Trail(records, fallback_reason(plan, records, name), walk.sent)
    if run.call.stream:
        # The caller's deadline, not the policy's totalMs, bounds the relay: a timeout then is nobody's fault.
        caller_cut = run.deadline < served.started + plan.policy.total_ms / 1000
        call = run.call
        body = StreamBody(
            served,
            api=call.api,
            request_id=call.request_id,
            caller_cut=caller_cut,
            prompt_tokens=call.prompt_tokens,
        )
        return ServedStream(trail, name, body, served.first_byte)
    assert served.answer is not None
    usage = served.answer.usage
    return ServedJson(
        trail,
        name,
        served.body,
        usage,
        cost_usd(served.endpoint.config, usage),
        served.answer.finish_reason,
        served.answer.output_empty,
        served.answer.estimated,
    )


def _unserved(plan: Plan, run: Execution, walk: Walk, records: tuple[AttemptRecord, ...]) -> Verdict:
    if walk.error is not None:
        return _failed(plan, run.table, walk.error, Trail(records, "", walk.sent))
    refused = _own_refusal(walk, records)
    if walk.budget_refused:
        account = run.table.budgets.get(plan.route.name)
        trail = Trail(records, str(Refusal.BUDGET), walk.sent)
        return BudgetExhausted(trail, retry_after=account.seconds_left() if account is not None else 60)
    if refused is not None:
        trail = Trail(records, str(refused), walk.sent)
        if REFUSAL_TRIGGERS[refused] == "rate-limited":
            return Throttled(trail, walk.retry_after, str(refused))
        return Shed(trail, walk.retry_after, str(refused))
    sent = [r for r in records if not r.skipped and r.outcome != Ended.CANCELLED]
    if sent and walk.last_failed is not None and all(r.outcome == Failure.CONTEXT_LENGTH for r in sent):
        return _failed(plan, run.table, walk.last_failed, Trail(records, "", walk.sent))
    # Nothing could serve: the first thing that went wrong is why the first choice did not.
    trail = Trail(records, failure_reason(plan, records), walk.sent)
    # Embeddings never degrade to a static body: no vector is better than a made-up one.
    mode = plan.policy.degraded.mode if run.call.api != "embeddings" else "error"
    summary = failure_summary(plan, records)
    if walk.deadline_exceeded and mode == "error":
        return DeadlineExceeded(trail, summary)
    return Degrade(trail, static=mode == "static", summary=summary)


def _own_refusal(walk: Walk, records: tuple[AttemptRecord, ...]) -> Refusal | None:
    """The sidecar's own load or rate refusal that decides the answer: the one that ended the walk, or,
    when nothing was sent at all, the first such refusal (an overload before a rate limit)."""
    if walk.refused is not None:
        return walk.refused
    if any(not r.skipped for r in records):
        return None
    own = [r.outcome for r in records if isinstance(r.outcome, Refusal) and r.outcome in REFUSAL_TRIGGERS]
    overloaded = [refusal for refusal in own if REFUSAL_TRIGGERS[refusal] == "overloaded"]
    return overloaded[0] if overloaded else (own[0] if own else None)


def _failed(plan: Plan, table: RoutingTable, failed: AttemptFailed, trail: Trail) -> Verdict:
    """The client's own mistake keeps the upstream's words; other failures are described in ours."""
    if failed.failure in (Failure.CLIENT_ERROR, Failure.CONTEXT_LENGTH):
        endpoint = next(r.endpoint for r in reversed(trail.records) if r.outcome == failed.failure)
        return PassThrough(trail, endpoint, failed.status or 400, scrub(failed.body, table))
    return UpstreamError(trail, failed.failure, failed.retry_after, failure_summary(plan, trail.records))


def scrub(body: bytes, table: RoutingTable) -> bytes:
    """The upstream's error body with any endpoint key it might echo removed."""
    for endpoint in table.endpoints.values():
        if len(endpoint.key) >= 8 and endpoint.key.encode() in body:
            body = body.replace(endpoint.key.encode(), b"[REDACTED]")
    return body or _UPSTREAM_ERROR_BODY
