"""One model call from entry to exit: parse -> plan -> execute -> respond -> record.

Shared by the OpenAI and Anthropic handlers. The routing table is read once, at entry, so a request
finishes on the config it started with even if a reload swaps the table meanwhile.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from ..execution.executor import execute
from ..execution.upstreams import Call
from ..execution.upstreams.base import FORWARDED_HEADERS
from ..execution.verdicts import ServedJson, ServedStream
from ..execution.walking import Execution
from ..routing import plan
from ..routing.hints import HintError, build_route_request, header_text
from ..routing.matching import NoRoute
from ..routing.request import Api
from .bodies import check_body, read_body
from .errors import BadRequest, NotFound, ProxyError
from .exchange import Exchange, current_table
from .recording import record
from .responding import respond
from .state import CLIENTS, REQUEST_ID, SHADOWS

# Output tokens assumed when the caller sets no max_tokens, for tokens-per-minute limits.
DEFAULT_OUTPUT_ESTIMATE = 256


async def handle_model_call(request: web.Request, api: Api) -> web.StreamResponse:
    """The whole life of a model call; the handlers of each API call this."""
    table = current_table(request)
    loop = asyncio.get_running_loop()
    exchange = Exchange(request, api, table, loop.time(), request[REQUEST_ID])
    try:
        return await _serve(exchange)
    except ProxyError as exc:
        exchange.status = exc.status
        raise
    except asyncio.CancelledError:
        exchange.client_gone = True
        raise
    except Exception:
        exchange.status = 500  # a bug: the error middleware logs it and answers 500
        raise
    finally:
        # Metrics and the access log wait for the next turn of the event loop, so that the answer is
        # written first: accounting costs CPU, not latency.
        exchange.finished = loop.time()
        loop.call_soon(record, exchange)


async def _serve(exchange: Exchange) -> web.StreamResponse:
    request, api, table = exchange.request, exchange.api, exchange.table
    body = await read_body(request)
    check_body(api, body)
    try:
        route_request = build_route_request(
            api,
            request.headers,
            body,
            request_id=exchange.request_id,
            session_fallback=table.layouts.has_affinity,
        )
        forwarded = {
            name: value for name in FORWARDED_HEADERS if (value := header_text(request.headers, name))
        }
        decision = plan(table.config, route_request, table.state(), now=datetime.now(UTC), rng=table.rng)
    except HintError as exc:
        raise BadRequest(exc.message, code="invalid_header", param=exc.param) from None
    except NoRoute as exc:
        raise NotFound(exc.message, code="model_not_found", param="model") from None
    exchange.plan = decision
    call = Call(api, body, route_request.stream, forwarded, exchange.request_id, route_request.prompt_tokens)
    exchange.stream = call.stream
    deadline = exchange.started + decision.deadline_ms / 1000
    tokens = route_request.prompt_tokens + (route_request.max_tokens or DEFAULT_OUTPUT_ESTIMATE)
    run = Execution(
        table,
        request.app[CLIENTS],
        call,
        deadline,
        table.rng,
        estimated_tokens=tokens,
        prompt_tokens=route_request.prompt_tokens,
        max_tokens=route_request.max_tokens,
    )
    verdict = exchange.verdict = await execute(decision, run)
    if decision.shadow and isinstance(verdict, ServedJson | ServedStream):
        request.app[SHADOWS].start(table, decision, call)
    return await respond(exchange, verdict)
