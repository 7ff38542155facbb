"""Turn a verdict into the HTTP answer: JSON, a relayed stream, the upstream's own 4xx, an error, degraded.

Headers say what happened (route, variant, endpoint, attempts, fallback reason, cost, degraded). Every
error is raised as a `ProxyError`, which the middleware renders in the caller's API shape. A stream is
committed here (`prepare()`) and its bytes copied from the verdict's `StreamBody`, which owns the
upstream and its lease: this module only writes.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from ..execution.classify import Failure
from ..execution.relaying import StreamEnd
from ..execution.verdicts import (
    BudgetExhausted,
    DeadlineExceeded,
    Degrade,
    PassThrough,
    ServedJson,
    ServedStream,
    Shed,
    Throttled,
    Unservable,
    UpstreamError,
    Verdict,
    served_by,
)
from . import errors
from .degrading import degraded_response
from .exchange import Exchange

CLIENT_GONE = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)

# A failure the policy does not fail over on, in our words (the upstream's body may hold anything).
FAILURE_ERRORS: dict[Failure, type[errors.ProxyError]] = {
    Failure.RATE_LIMITED: errors.RateLimited,
    Failure.OVERLOADED: errors.Unavailable,
    Failure.TIMEOUT: errors.DeadlineExceeded,
    Failure.CONNECT_ERROR: errors.UpstreamFailed,
    Failure.SERVER_ERROR: errors.UpstreamFailed,
}
# The status line said 200 before a stream broke; metrics and the log say what really happened.
STREAM_STATUS = {StreamEnd.MIDSTREAM_FAILURE: 502, StreamEnd.CLIENT_GONE: 499}
# Why a request was shed, in words for the error message.
SHED_WORDS = {
    "shed": "its priority's share is full and the queue has no room for it",
    "queue-deadline": "it could not meet its deadline waiting for a slot",
    "concurrency-limit": "every slot is taken and the endpoint has no queue",
}
STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def respond(exchange: Exchange, verdict: Verdict) -> web.StreamResponse:
    """The answer for `verdict` (ProxyErrors raised here are rendered by the middleware)."""
    if isinstance(verdict, ServedStream):
        return await relay(exchange, verdict)
    response = _answer(exchange, verdict)
    exchange.status = response.status
    return response


def _answer(exchange: Exchange, verdict: Verdict) -> web.Response:
    answer = headers(exchange, verdict)
    match verdict:
        case ServedJson():
            answer["X-Switchboard-Cost-Usd"] = f"{verdict.cost_usd:.8f}"
            answer["Content-Type"] = "application/json"  # as a header: cheaper than the content_type setter
            return web.Response(status=200, body=verdict.body, headers=answer)
        case PassThrough():
            answer["Content-Type"] = "application/json"
            return web.Response(status=verdict.status, body=verdict.body, headers=answer)
        case Degrade(static=True):
            assert exchange.plan is not None
            return degraded_response(
                exchange.api, exchange.plan.policy.degraded, answer, stream=exchange.stream
            )
    raise _error(exchange, verdict, answer)


def _error(exchange: Exchange, verdict: Verdict, answer: dict[str, str]) -> errors.ProxyError:
    plan = exchange.plan
    assert plan is not None
    route = plan.route.name
    match verdict:
        case UpstreamError():
            error_class = FAILURE_ERRORS[verdict.failure]
            retried = error_class in (errors.RateLimited, errors.Unavailable)
            return error_class(
                f"upstream failed ({verdict.failure}) and the policy does not fail over on it: "
                + verdict.summary,
                code=verdict.failure,
                retry_after=int(verdict.retry_after or 1) if retried else None,
                headers=answer,
            )
        case Shed():
            return errors.Unavailable(
                f"overloaded: route '{route}' ({plan.priority}) was refused by the sidecar's admission "
                f"control ({SHED_WORDS.get(verdict.reason, verdict.reason)}); retry shortly",
                code="overloaded",
                retry_after=verdict.retry_after,
                headers=answer,
            )
        case Throttled():
            return errors.RateLimited(
                f"rate limited: the endpoints of route '{route}' are at their configured "
                f"{'token' if verdict.reason == 'token-rate-limit' else 'request'} rate",
                code="rate_limited",
                retry_after=verdict.retry_after,
                headers=answer,
            )
        case BudgetExhausted():
            return errors.RateLimited(
                f"route '{route}' has spent its budget for this window",
                code="budget_exhausted",
                retry_after=verdict.retry_after,
                headers=answer,
            )
        case DeadlineExceeded():
            return errors.DeadlineExceeded(
                f"deadline of {plan.deadline_ms} ms exceeded: {verdict.summary}",
                code="deadline_exceeded",
                headers=answer,
            )
        case Degrade():
            return errors.Unavailable(
                f"every endpoint of route '{route}' failed: {verdict.summary}",
                code="all_endpoints_failed",
                retry_after=plan.policy.degraded.retry_after_seconds,
                headers=answer,
            )
        case Unservable():
            return errors.BadRequest(verdict.message, code=verdict.code, param=verdict.param, headers=answer)
    raise AssertionError(f"no answer for {type(verdict).__name__}")


async def relay(exchange: Exchange, verdict: ServedStream) -> web.StreamResponse:
    """Commit the stream and copy the body's bytes; the body gives its upstream and lease back."""
    response = web.StreamResponse(status=200, headers={**headers(exchange, verdict), **STREAM_HEADERS})
    body = verdict.body
    try:
        async with contextlib.aclosing(aiter(body)) as chunks:
            await response.prepare(exchange.request)
            async for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
    except CLIENT_GONE:
        exchange.client_gone = True
    finally:
        body.close()  # idempotent: the body's own finally normally did it
    if body.end == StreamEnd.CLIENT_GONE:
        exchange.client_gone = True
    exchange.status = STREAM_STATUS.get(body.end or StreamEnd.COMPLETE, 200)
    return response


def headers(exchange: Exchange, verdict: Verdict) -> dict[str, str]:
    """X-Switchboard-* response headers for the verdict."""
    plan = exchange.plan
    result = {"X-Request-Id": exchange.request_id}
    if plan is not None:
        result["X-Switchboard-Route"] = plan.route.name
        result["X-Switchboard-Variant"] = plan.variant.name
    endpoint = served_by(verdict)
    if endpoint:
        result["X-Switchboard-Endpoint"] = endpoint
    trail = verdict.trail
    result["X-Switchboard-Attempts"] = str(trail.sent)
    if trail.fallback_reason:
        result["X-Switchboard-Fallback-Reason"] = trail.fallback_reason
    if isinstance(verdict, Degrade) and verdict.static:
        result["X-Switchboard-Degraded"] = "true"
    return result
