"""Relay a stream whose first event has arrived: commit the response, copy the rest, end loudly.

Until `prepare()` nothing reached the client, which is what made failover invisible. From here on the
stream belongs to this endpoint: a failure (a reset, a timeout, the deadline, or an upstream that just
stops without its terminal event) ends the stream with an SSE error event and counts against the
endpoint; a client that disconnects closes the upstream and counts against nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import aiohttp
from aiohttp import web

from ..accounting.usage import cost_usd
from ..execution.attempts import Ready
from ..execution.streaming import DONE, AnthropicRelay, OpenAIRelay, error_event, event_data, event_name
from .exchange import Exchange

CLIENT_GONE = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
MIDSTREAM_FAILURE = "midstream-failure"  # attempt outcome of a stream that failed after its first byte


async def relay_stream(exchange: Exchange, ready: Ready, headers: dict[str, str]) -> web.StreamResponse:
    """Copy an upstream stream to the client, collecting usage; always releases the upstream."""
    assert exchange.plan is not None and ready.events is not None
    response = web.StreamResponse(
        status=200,
        headers={
            **headers,
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    relay = AnthropicRelay() if exchange.api == "messages" else OpenAIRelay(strip_usage=ready.add_usage)
    exchange.ttft_seconds = ready.first_byte - exchange.started
    loop = asyncio.get_running_loop()
    deadline = min(
        exchange.started + exchange.plan.deadline_ms / 1000,
        ready.started + exchange.plan.policy.total_ms / 1000,
    )
    finished = False
    try:
        await response.prepare(exchange.request)
        finished = await _write(response, relay, ready.first_events or (), exchange.api)
        async with asyncio.timeout_at(deadline):
            async for batch in ready.events:
                finished = await _write(response, relay, batch, exchange.api) or finished
        if not finished:
            raise aiohttp.ClientPayloadError("upstream ended the stream without its final event")
        ready.endpoint.latency_ms.add((loop.time() - ready.started) * 1000)
        ready.endpoint.ttft_ms.add((ready.first_byte - ready.started) * 1000)
        await response.write_eof()
    except CLIENT_GONE:
        exchange.client_gone = True
        exchange.status = 499  # nginx's word for "client closed request": nobody's fault upstream
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        await _fail_midstream(exchange, ready, response, exc)
    finally:
        ready.close()
        ready.endpoint.concurrency.release()
        exchange.usage = relay.tally.usage
        exchange.cost_usd = cost_usd(ready.endpoint.config, relay.tally.usage)
        exchange.finish_reason = relay.tally.finish_reason
        exchange.output_empty = relay.tally.output_chars == 0
    return response


async def _write(
    response: web.StreamResponse, relay: OpenAIRelay | AnthropicRelay, events: Iterable[bytes], api: str
) -> bool:
    """Write a batch of events in one go; True when the stream's terminal event was among them."""
    out = []
    finished = False
    for event in events:
        transformed = relay.transform(event)
        if transformed is not None:
            out.append(transformed)
            out.append(b"\n\n")
        if api == "messages":
            finished = finished or event_name(event) == b"message_stop"
        else:
            finished = finished or event_data(event) == DONE
    if out:
        await response.write(b"".join(out))
    return finished


async def _fail_midstream(
    exchange: Exchange, ready: Ready, response: web.StreamResponse, exc: BaseException
) -> None:
    reason = (
        "deadline exceeded"
        if isinstance(exc, TimeoutError)
        else f"upstream stream failed ({type(exc).__name__})"
    )
    exchange.status = 502
    # The attempt that served failed after all. It is not a fallback (nothing else was tried, and nothing
    # else may continue the stream), so it shows as the outcome of that attempt.
    _mark_midstream_failure(exchange, ready.endpoint.config.name)
    assert exchange.plan is not None
    caller_cut = (
        exchange.started + exchange.plan.deadline_ms / 1000
        < ready.started + exchange.plan.policy.total_ms / 1000
    )
    if not (isinstance(exc, TimeoutError) and caller_cut):  # the caller's own deadline is nobody's fault
        ready.endpoint.breaker.record_failure()
    try:
        await response.write(
            error_event(
                api=exchange.api,
                message=f"{reason} after the stream started; request id {exchange.request_id}",
            )
        )
        await response.write_eof()
    except CLIENT_GONE:
        exchange.client_gone = True


def _mark_midstream_failure(exchange: Exchange, endpoint: str) -> None:
    records = exchange.outcome.records if exchange.outcome is not None else []
    for index in range(len(records) - 1, -1, -1):
        if records[index].endpoint == endpoint and records[index].outcome == "success":
            records[index] = records[index]._replace(outcome=MIDSTREAM_FAILURE)
            return
