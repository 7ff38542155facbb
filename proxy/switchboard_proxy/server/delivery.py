"""Turn an executed plan into the HTTP answer: JSON, a relayed stream, a pass-through error, or degraded.

Headers say what happened (route, variant, endpoint, attempts, fallback reason, cost, degraded). Upstream
error bodies are passed through only for the client's own mistakes (4xx), with any key scrubbed; every
other failure is described in our own words.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..accounting import metrics
from ..accounting.usage import cost_usd
from ..execution.attempts import AttemptFailed, Ready
from ..execution.executor import SHED
from ..execution.upstreams import Usage
from ..execution.upstreams import anthropic as anthropic_wire
from ..execution.upstreams import openai as openai_wire
from .degrading import degraded_response, failure_summary
from .errors import BadRequest, DeadlineExceeded, ProxyError, RateLimited, Unavailable, UpstreamFailed
from .exchange import Exchange
from .relaying import relay_stream

# A failure the policy does not fail over on, in our words (the upstream's body may hold anything).
FAILURE_ERRORS: dict[str, type[ProxyError]] = {
    "rate-limited": RateLimited,
    "overloaded": Unavailable,
    "timeout": DeadlineExceeded,
    "connect-error": UpstreamFailed,
    "server-error": UpstreamFailed,
}


async def deliver(exchange: Exchange) -> web.StreamResponse:
    """Answer the client from the executed plan (ProxyErrors raised here are rendered by the middleware)."""
    response = await _answer(exchange)
    exchange.status = exchange.status or response.status
    return response


async def _answer(exchange: Exchange) -> web.StreamResponse:
    outcome = exchange.outcome
    assert outcome is not None and exchange.call is not None
    if outcome.served is not None:
        exchange.endpoint = outcome.served.endpoint.config.name
        exchange.fallback_reason = fallback_reason(exchange)
        if exchange.call.stream:
            return await relay_stream(exchange, outcome.served, headers(exchange))
        return serve_json(exchange, outcome.served)
    if outcome.error is not None:
        return pass_through(exchange, outcome.error)
    too_large(exchange)
    shed(exchange)
    sent = [r for r in outcome.records if not r.outcome.startswith("skipped") and r.outcome != "cancelled"]
    if sent and all(r.outcome == "context-length" for r in sent):
        assert outcome.last_failed is not None
        return pass_through(exchange, outcome.last_failed)
    exchange.fallback_reason = failure_summary(exchange, short=True)
    if (
        outcome.deadline_exceeded
        and exchange.plan is not None
        and exchange.plan.policy.degraded.mode == "error"
    ):
        raise DeadlineExceeded(
            f"deadline of {exchange.plan.deadline_ms} ms exceeded: {failure_summary(exchange)}",
            code="deadline_exceeded",
            headers=headers(exchange),
        )
    exchange.degraded = True
    return degraded_response(exchange, headers(exchange))


def shed(exchange: Exchange) -> None:
    """Raise a 503 when the request was turned away to keep room for higher priorities (load shedding).

    Shedding is the sidecar protecting critical work during a spike, not an outage: no degraded answer,
    a short Retry-After instead, and `switchboard_shed_total{reason="overload"}` counts it.
    """
    outcome, plan = exchange.outcome, exchange.plan
    if outcome is None or plan is None or not any(r.outcome == f"skipped:{SHED}" for r in outcome.records):
        return
    if any(not r.outcome.startswith("skipped") for r in outcome.records):
        return  # something was tried and failed: that is an outage, handled as one
    metrics.labelled(metrics.SHED, plan.route.name, plan.priority, "overload").inc()
    raise Unavailable(
        f"shed: route '{plan.route.name}' ({plan.priority}) is over its share of the endpoints' capacity; "
        "retry shortly",
        code="overloaded",
        retry_after=1,
        headers=headers(exchange),
    )


def too_large(exchange: Exchange) -> None:
    """Raise a 400 when no endpoint of the route could ever take this request: the caller must shorten it.

    Not an outage, so not a degraded answer: retrying later would fail the same way.
    """
    plan = exchange.plan
    if plan is None or plan.attempts or not plan.rejections:
        return
    if all(r.reason in ("context-window", "max-output") for r in plan.rejections):
        details = "; ".join(f"{r.endpoint}: {r.detail}" for r in plan.rejections)
        raise BadRequest(
            f"the request does not fit any endpoint of route '{plan.route.name}': {details}",
            code="context_length_exceeded",
            param="messages",
            headers=headers(exchange),
        )


def headers(exchange: Exchange) -> dict[str, str]:
    """X-Switchboard-* response headers for what is known so far."""
    plan, outcome = exchange.plan, exchange.outcome
    result = {"X-Request-Id": exchange.request_id}
    if plan is not None:
        result["X-Switchboard-Route"] = plan.route.name
        result["X-Switchboard-Variant"] = plan.variant.name
    if exchange.endpoint != "none":
        result["X-Switchboard-Endpoint"] = exchange.endpoint
    if outcome is not None:
        result["X-Switchboard-Attempts"] = str(outcome.sent)
    if exchange.fallback_reason:
        result["X-Switchboard-Fallback-Reason"] = exchange.fallback_reason
    if exchange.degraded:
        result["X-Switchboard-Degraded"] = "true"
    return result


def fallback_reason(exchange: Exchange) -> str:
    """Why the first choice did not serve ('' when it did): its failure, or why the planner skipped it."""
    plan, outcome = exchange.plan, exchange.outcome
    assert plan is not None and outcome is not None
    first_planned = plan.attempts[0].endpoint if plan.attempts else ""
    if first_planned and exchange.endpoint != first_planned:
        first = next((r for r in outcome.records if r.endpoint == first_planned), None)
        return (first.outcome.removeprefix("skipped:") if first else "") or "unavailable"
    if plan.attempts and plan.attempts[0].stage == "fallback" and plan.rejections:
        return plan.rejections[0].reason
    return ""


def serve_json(exchange: Exchange, ready: Ready) -> web.Response:
    document = _decode(ready.body)
    exchange.usage = usage_of(exchange, document)
    exchange.cost_usd = cost_usd(ready.endpoint.config, exchange.usage)
    exchange.finish_reason, exchange.output_empty = finish_of(document)
    answer = headers(exchange)
    answer["X-Switchboard-Cost-Usd"] = f"{exchange.cost_usd:.8f}"
    answer["Content-Type"] = "application/json"  # as a header: cheaper than aiohttp's content_type setter
    return web.Response(status=200, body=ready.body, headers=answer)


def usage_of(exchange: Exchange, document: Any) -> Usage:
    return anthropic_wire.usage_of(document) if exchange.api == "messages" else openai_wire.usage_of(document)


def finish_of(document: Any) -> tuple[str, bool]:
    """(finish reason, output empty) of an OpenAI or Anthropic answer."""
    if not isinstance(document, dict):
        return "", False
    if "stop_reason" in document:  # Anthropic message
        content = document.get("content") or []
        text = "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
        has_tools = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        return str(document.get("stop_reason") or ""), not text and not has_tools
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", False
    choice = choices[0]
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    output: Any = message.get("content") if message else choice.get("text")
    return str(choice.get("finish_reason") or ""), not output and not message.get("tool_calls")


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def pass_through(exchange: Exchange, failed: AttemptFailed) -> web.Response:
    """The client's own mistake keeps the upstream's words; other failures get ours."""
    answer = headers(exchange)
    if failed.failure in ("client-error", "context-length"):
        body = _scrub(failed.body, exchange)
        answer["X-Switchboard-Endpoint"] = exchange.outcome.records[-1].endpoint if exchange.outcome else ""
        return web.Response(
            status=failed.status or 400, body=body, content_type="application/json", headers=answer
        )
    error_class = FAILURE_ERRORS[failed.failure]
    message = (
        f"upstream failed ({failed.failure}) and the policy does not fail over on it: "
        f"{failure_summary(exchange)}"
    )
    retry_after = int(failed.retry_after or 1) if error_class in (RateLimited, Unavailable) else None
    raise error_class(message, code=failed.failure, retry_after=retry_after, headers=answer)


def _scrub(body: bytes, exchange: Exchange) -> bytes:
    """Remove any endpoint key an upstream might echo in an error message."""
    for endpoint in exchange.table.endpoints.values():
        if len(endpoint.key) >= 8 and endpoint.key.encode() in body:
            body = body.replace(endpoint.key.encode(), b"[REDACTED]")
    return (
        body
        or b'{"error": {"message": "upstream error", "type": "upstream_error", "code": null, "param": null}}'
    )
