"""One model call from entry to exit: parse -> plan -> execute -> deliver -> record.

Shared by the OpenAI and Anthropic handlers. The routing table is read once, at entry, so a request
finishes on the config it started with even if a reload swaps the table meanwhile.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from ..accounting import metrics
from ..execution.executor import Execution, execute
from ..execution.upstreams import Call
from ..execution.upstreams.base import FORWARDED_HEADERS
from ..routing import plan
from ..routing.hints import HintError, build_route_request
from ..routing.matching import NoRoute
from ..routing.request import Api
from .bodies import check_body, read_body
from .delivery import deliver
from .errors import BadRequest, NotFound, ProxyError, RateLimited
from .exchange import Exchange, current_table
from .recording import record
from .state import SESSION, SHADOWS

# Output tokens assumed when the caller sets no max_tokens, for tokens-per-minute limits.
DEFAULT_OUTPUT_ESTIMATE = 256


async def handle_model_call(request: web.Request, api: Api) -> web.StreamResponse:
    """The whole life of a model call; the handlers of each API call this."""
    table = current_table(request)
    exchange = Exchange(request, api, table, asyncio.get_running_loop().time())
    try:
        return await _serve(exchange)
    except ProxyError as exc:
        exchange.status = exc.status
        raise
    finally:
        # Metrics and the access log wait for the next turn of the event loop, so that the answer is
        # written first: accounting costs CPU, not latency.
        loop = asyncio.get_running_loop()
        exchange.finished = loop.time()
        loop.call_soon(record, exchange)


async def _serve(exchange: Exchange) -> web.StreamResponse:
    request, api, table = exchange.request, exchange.api, exchange.table
    body = await read_body(request)
    check_body(api, body)
    try:
        route_request = build_route_request(api, request.headers, body, request_id=exchange.request_id)
        decision = plan(table.config, route_request, table.state(), now=datetime.now(UTC), rng=table.rng)
    except HintError as exc:
        raise BadRequest(exc.message, code="invalid_header", param=exc.param) from None
    except NoRoute as exc:
        raise NotFound(exc.message, code="model_not_found", param="model") from None
    exchange.plan = decision
    if decision.refusal == "budget-exhausted":
        metrics.SHED.labels(decision.route.name, decision.priority, "budget").inc()
        spend = table.spend.get(decision.route.name)
        raise RateLimited(
            f"route '{decision.route.name}' has spent its budget for this window",
            code="budget_exhausted",
            retry_after=spend.seconds_left() if spend is not None else 60,
        )
    forwarded = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    exchange.call = Call(api, body, body.get("stream") is True, forwarded, exchange.request_id)
    deadline = exchange.started + decision.deadline_ms / 1000
    tokens = route_request.prompt_tokens + (route_request.max_tokens or DEFAULT_OUTPUT_ESTIMATE)
    run = Execution(table, request.app[SESSION], exchange.call, deadline, table.rng, estimated_tokens=tokens)
    if decision.shadow:
        request.app[SHADOWS].start(table, decision, exchange.call)
    exchange.outcome = await execute(decision, run)
    return await deliver(exchange)
