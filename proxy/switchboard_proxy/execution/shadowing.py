"""Shadow traffic: mirror a request to a candidate endpoint, measure it, throw the answer away.

Fire-and-forget with a bound: at most `limit` shadows in flight per sidecar (beyond that a mirror is
dropped, never queued), they never delay or fail the real request, and they stop with the sidecar.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp
import orjson

from ..accounting import metrics
from ..accounting.usage import cost_usd
from ..routing import Plan
from ..runtime import EndpointRuntime, RoutingTable
from .attempts import AttemptFailed, AttemptLimits, run_attempt
from .classify import NOT_ENDPOINT_FAULTS
from .upstreams import Call, Usage
from .upstreams import anthropic as anthropic_wire
from .upstreams import openai as openai_wire

log = logging.getLogger("switchboard.proxy")
SHADOW_VARIANT = "shadow"


@dataclass(eq=False)
class Shadows:
    """Running shadow tasks (kept referenced so they are not garbage-collected mid-flight)."""

    session: aiohttp.ClientSession
    limit: int = 32
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, table: RoutingTable, plan: Plan, call: Call) -> None:
        endpoint = table.endpoints.get(plan.shadow)
        if endpoint is None or len(self.tasks) >= self.limit:
            metrics.SHADOWS.labels(plan.route.name, plan.shadow, "dropped").inc()
            return
        # A shadow never streams: the answer is discarded, only its latency and cost matter.
        mirrored = Call(call.api, {**call.body, "stream": False}, False, call.forwarded, call.request_id)
        mirrored.body.pop("stream_options", None)
        task = asyncio.create_task(self._mirror(endpoint, plan, mirrored))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _mirror(self, endpoint: EndpointRuntime, plan: Plan, call: Call) -> None:
        name, route = endpoint.config.name, plan.route.name
        if not endpoint.breaker.allow() or not endpoint.concurrency.try_acquire():
            endpoint.breaker.release()
            metrics.SHADOWS.labels(route, name, "skipped").inc()
            return
        seconds = plan.policy.total_ms / 1000
        limits = AttemptLimits(connect=plan.policy.connect_ms / 1000, first_event=seconds, total=seconds)
        try:
            ready = await run_attempt(self.session, endpoint, call, limits)
        except AttemptFailed as failed:
            if failed.failure in NOT_ENDPOINT_FAULTS:
                endpoint.breaker.release()
            else:
                endpoint.breaker.record_failure()  # a real fault is news about the endpoint, mirrored or not
            metrics.SHADOWS.labels(route, name, failed.failure).inc()
            return
        except BaseException:
            endpoint.breaker.release()
            raise
        finally:
            endpoint.concurrency.release()
        endpoint.breaker.record_success()
        metrics.SHADOWS.labels(route, name, "success").inc()
        metrics.UPSTREAM_DURATION.labels(name).observe(ready.first_byte - ready.started)
        usage = _usage_of(call, ready.body)
        metrics.COST.labels(route, SHADOW_VARIANT, name).inc(cost_usd(endpoint.config, usage))

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _usage_of(call: Call, body: bytes) -> Usage:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Usage()
    return anthropic_wire.usage_of(document) if call.api == "messages" else openai_wire.usage_of(document)
