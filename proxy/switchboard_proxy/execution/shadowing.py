"""Shadow traffic: mirror a served request to a candidate endpoint, measure it, throw the answer away.

Fire-and-forget with a bound: at most `limit` shadows in flight per sidecar (beyond that a mirror is
dropped, never queued). A shadow is admitted by the endpoint's gate as sheddable work, so it never takes
room that real traffic needs, and its lease is ended like any other attempt's. Shadows never delay or
fail the real request, are only sent for requests that were served, only to an endpoint that can serve
the request's API, and stop with the sidecar.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..accounting.metrics import Metrics
from ..accounting.usage import cost_usd
from ..routing import Plan
from ..routing.protocols import apis_of
from .attempts import AttemptFailed, AttemptLimits, Clients, run_attempt
from .leasing import Lease
from .outcomes import Refusal
from .runtime import EndpointRuntime, RoutingTable
from .upstreams import Call

SHADOW_VARIANT = "shadow"


@dataclass(eq=False)
class Shadows:
    """Running shadow tasks (kept referenced so they are not garbage-collected mid-flight)."""

    clients: Clients
    metrics: Metrics
    limit: int = 32
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, table: RoutingTable, plan: Plan, call: Call) -> None:
        """Mirror `call` to the plan's shadow endpoint, unless it is full or cannot serve the call."""
        endpoint = table.endpoints.get(plan.shadow)
        route = plan.route.name
        if endpoint is None or call.api not in apis_of(endpoint.config):
            self.metrics.shadows.labels(route, plan.shadow, "unservable").inc()
            return
        if len(self.tasks) >= self.limit:
            self.metrics.shadows.labels(route, plan.shadow, "dropped").inc()
            return
        # A shadow never streams: the answer is discarded, only its latency and cost matter.
        body = {**call.body, "stream": False}
        body.pop("stream_options", None)
        mirrored = call._replace(body=body, stream=False)
        task = asyncio.create_task(self._mirror(endpoint, plan, mirrored))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _mirror(self, endpoint: EndpointRuntime, plan: Plan, call: Call) -> None:
        name, route = endpoint.config.name, plan.route.name
        seconds = plan.policy.total_ms / 1000
        admitted = await endpoint.gate.admit(
            priority="sheddable", deadline=asyncio.get_running_loop().time() + seconds, tokens=0
        )
        if isinstance(admitted, Refusal):
            self.metrics.shadows.labels(route, name, "skipped").inc()
            return
        with admitted as lease:
            await self._send(endpoint, plan, call, lease)

    async def _send(self, endpoint: EndpointRuntime, plan: Plan, call: Call, lease: Lease) -> None:
        name, route = endpoint.config.name, plan.route.name
        seconds = plan.policy.total_ms / 1000
        limits = AttemptLimits(connect=plan.policy.connect_ms / 1000, first_event=seconds, total=seconds)
        try:
            ready = await run_attempt(self.clients, endpoint, call, limits)
        except AttemptFailed as failed:
            lease.fail(
                failed.failure, retry_after=failed.retry_after
            )  # a real fault is news about the endpoint, mirrored or not
            self.metrics.shadows.labels(route, name, failed.failure).inc()
            return
        answer = ready.answer
        assert answer is not None  # a JSON answer is inspected where it is read
        lease.succeed(answer.usage)
        self.metrics.shadows.labels(route, name, "success").inc()
        self.metrics.upstream_duration.labels(name).observe(ready.first_byte - ready.started)
        self.metrics.cost.labels(route, SHADOW_VARIANT, name).inc(cost_usd(endpoint.config, answer.usage))

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
