"""`execute(plan, ...)`: walk the planner's attempts until one can serve, inside one deadline.

The one retry loop of the sidecar (the HTTP client underneath never retries on its own):
- a failure whose trigger is in the policy's `on` moves on; any other failure is returned as it is;
- a same-endpoint retry waits an exponential, fully jittered backoff (at least the upstream's
  Retry-After) and spends the route's retry budget; moving to another endpoint never waits;
- a timed-out endpoint is not retried while another endpoint is left later in the plan (a stall
  outlasts a deadline);
- after a context-length error only endpoints with a larger window are tried;
- the first attempt may be hedged: after `hedge_after_ms` without an answer a second endpoint starts
  and the first to be servable wins (the loser's outcome is `hedge-lost`);
- open circuits, full concurrency limits and empty rate buckets are skipped at the moment of sending;
- a walk that ends with nothing served and the deadline spent reports `deadline_exceeded`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import aiohttp

from ..routing import Attempt, Plan
from ..runtime import EndpointRuntime, RoutingTable
from .attempts import AttemptFailed, AttemptLimits, Ready, run_attempt
from .classify import NOT_ENDPOINT_FAULTS, NOT_RETRYABLE_ON_SAME_ENDPOINT
from .hedging import race
from .upstreams import Call

HEDGE_LOST = "hedge-lost"  # outcome of the attempt cancelled because the hedged one answered first
# Less than this left of the deadline counts as none: an attempt clipped to the deadline ends within a
# clock tick of it, and nothing useful fits in a few milliseconds anyway.
DEADLINE_SLACK_SECONDS = 0.005


SHED = "shed"  # skipped: the endpoint's room is kept for higher priorities


class AttemptRecord(NamedTuple):
    """What happened to one planned attempt: `outcome` is success, a failure kind, or skipped:<why>."""

    endpoint: str
    outcome: str
    status: int = 0
    seconds: float = 0.0


@dataclass(eq=False, slots=True)
class Outcome:
    """The result of executing a plan: `served`, or `error` to pass through, or nothing (degrade)."""

    served: Ready | None = None
    error: AttemptFailed | None = None
    last_failed: AttemptFailed | None = None
    records: list[AttemptRecord] = field(default_factory=list)
    deadline_exceeded: bool = False

    @property
    def sent(self) -> int:
        """Attempts actually sent upstream."""
        return sum(1 for r in self.records if not r.outcome.startswith("skipped"))

    @property
    def failures(self) -> list[AttemptRecord]:
        return [r for r in self.records if r.outcome != "success"]


@dataclass(eq=False, slots=True)
class Execution:
    """Everything `execute` needs besides the plan; built by the handler per request."""

    table: RoutingTable
    session: aiohttp.ClientSession
    call: Call
    deadline: float  # event-loop time by which the caller must have an answer
    rng: random.Random
    estimated_tokens: int = 0  # prompt estimate + requested output, charged to tokens-per-minute limits


async def execute(plan: Plan, run: Execution) -> Outcome:
    """Walk `plan.attempts`; return the first servable answer, a pass-through error, or the failures."""
    outcome = Outcome()
    walker = _Walker(plan, run, outcome)
    attempts = list(plan.attempts)
    if plan.policy.hedge_after_ms and attempts:
        outcome.served = await walker.hedged_first(attempts)
    for index, attempt in enumerate(attempts):
        if walker.done or outcome.served is not None:
            break
        outcome.served = await walker.try_attempt(attempt, ahead=attempts[index + 1 :])
    if outcome.served is None and outcome.error is None and walker.is_deadline_spent():
        # Nothing served and no time left: the deadline is what ended the walk, whichever rule skipped
        # the attempts after the last one (a backoff that no longer fits, or the deadline check itself).
        outcome.deadline_exceeded = True
    return outcome


class _Walker:
    """State of one walk over a plan: what failed, what is skipped, what the context floor is."""

    def __init__(self, plan: Plan, run: Execution, outcome: Outcome) -> None:
        self.plan = plan
        self.run = run
        self.outcome = outcome
        self.loop = asyncio.get_running_loop()
        self.skip: set[str] = set()
        self.window_floor = 0
        self.last_failure: dict[str, AttemptFailed] = {}
        self.budget = run.table.retry_budgets.get(plan.route.name)
        if self.budget is not None:
            self.budget.record_request()

    @property
    def done(self) -> bool:
        return self.outcome.error is not None or self.outcome.deadline_exceeded

    def _skip(self, name: str, why: str) -> None:
        self.skip.add(name)
        self.outcome.records.append(AttemptRecord(name, f"skipped:{why}"))

    async def try_attempt(self, attempt: Attempt, *, ahead: Sequence[Attempt]) -> Ready | None:
        """Run one planned attempt unless a rule says to skip it; `ahead` are the attempts after it."""
        name = attempt.endpoint
        endpoint = self.run.table.endpoints[name]
        if name in self.skip:
            return None
        if endpoint.config.context_window_tokens <= self.window_floor:
            self._skip(name, "context-window")
            return None
        if attempt.retry and not await self._wait_for_retry(attempt, ahead=ahead):
            return None
        if self._remaining() <= 0:
            self.outcome.deadline_exceeded = True
            return None
        if not self._admit(endpoint):
            return None
        return await self._send(endpoint, attempt)

    def _remaining(self) -> float:
        return self.run.deadline - self.loop.time()

    def is_deadline_spent(self) -> bool:
        return self._remaining() <= DEADLINE_SLACK_SECONDS

    async def _wait_for_retry(self, attempt: Attempt, *, ahead: Sequence[Attempt]) -> bool:
        previous = self.last_failure.get(attempt.endpoint)
        others_left = any(a.endpoint not in self.skip and a.endpoint != attempt.endpoint for a in ahead)
        if (
            previous is None
            or previous.failure in NOT_RETRYABLE_ON_SAME_ENDPOINT
            or (previous.failure == "timeout" and others_left)
        ):
            self.skip.add(attempt.endpoint)
            return False
        delay = backoff_seconds(self.plan, attempt.retry, retry_after=previous.retry_after, rng=self.run.rng)
        if delay >= self._remaining():
            self._skip(attempt.endpoint, "backoff-past-deadline")
            return False
        if self.budget is not None and not self.budget.try_spend():
            self._skip(attempt.endpoint, "retry-budget")
            return False
        await asyncio.sleep(delay)
        return True

    def _admit(self, endpoint: EndpointRuntime) -> bool:
        name = endpoint.config.name
        if not endpoint.breaker.allow():
            self._skip(name, "circuit-open")
            return False
        if not endpoint.concurrency.try_acquire(self.plan.priority):
            endpoint.breaker.release()
            # Full for everyone, or only for this priority: then the request is shed to keep room for
            # more important work.
            self._skip(name, "concurrency-limit" if endpoint.concurrency.is_full else SHED)
            return False
        # Rate buckets last: a request turned away by them must not have spent the other bucket's tokens.
        if not endpoint.rate.try_take():
            return self._refuse(endpoint, "rate-limit")
        if not endpoint.token_rate.try_take(max(1, self.run.estimated_tokens)):
            return self._refuse(endpoint, "token-rate-limit")
        return True

    def _refuse(self, endpoint: EndpointRuntime, why: str) -> bool:
        endpoint.concurrency.release()
        endpoint.breaker.release()
        self._skip(endpoint.config.name, why)
        return False

    def _limits(self) -> AttemptLimits:
        policy = self.plan.policy
        remaining = max(0.001, self._remaining())
        first_event = min(policy.first_token_ms, policy.total_ms) / 1000
        binding = first_event if self.run.call.stream else policy.total_ms / 1000
        return AttemptLimits(
            connect=min(policy.connect_ms / 1000, remaining),
            first_event=min(first_event, remaining),
            total=min(policy.total_ms / 1000, remaining),
            clipped=remaining < binding,
        )

    async def _send(self, endpoint: EndpointRuntime, attempt: Attempt) -> Ready | None:
        """Send an admitted attempt (the concurrency slot is held; a stream keeps it until relayed)."""
        started = self.loop.time()
        limits = self._limits()
        try:
            ready = await run_attempt(self.run.session, endpoint, self.run.call, limits)
        except AttemptFailed as failed:
            endpoint.concurrency.release()
            # A timeout the caller's short deadline imposed says little about the endpoint's health.
            blameless = failed.failure == "timeout" and limits.clipped
            self._record_failure(endpoint, failed, self.loop.time() - started, blameless=blameless)
            return None
        except BaseException:
            # The client left, a hedge lost, or a bug: no verdict on the endpoint either way.
            endpoint.concurrency.release()
            endpoint.breaker.release()
            self.outcome.records.append(
                AttemptRecord(endpoint.config.name, "cancelled", 0, self.loop.time() - started)
            )
            raise
        if not self.run.call.stream:
            endpoint.concurrency.release()
            # A stream's latency is measured by its relay, once it has ended.
            endpoint.latency_ms.add((ready.first_byte - ready.started) * 1000)
        endpoint.breaker.record_success()
        self.outcome.records.append(
            AttemptRecord(endpoint.config.name, "success", 200, self.loop.time() - started)
        )
        return ready

    def _record_failure(
        self, endpoint: EndpointRuntime, failed: AttemptFailed, seconds: float, *, blameless: bool = False
    ) -> None:
        name = endpoint.config.name
        self.outcome.records.append(AttemptRecord(name, failed.failure, failed.status, seconds))
        self.last_failure[name] = failed
        self.outcome.last_failed = failed
        if blameless or failed.failure in NOT_ENDPOINT_FAULTS:
            endpoint.breaker.release()
        else:
            endpoint.breaker.record_failure()
        if failed.failure == "client-error" or failed.failure not in self.plan.policy.triggers:
            self.outcome.error = failed
        elif failed.failure == "context-length":
            self.window_floor = max(self.window_floor, endpoint.config.context_window_tokens)
            self.skip.add(name)

    async def hedged_first(self, attempts: list[Attempt]) -> Ready | None:
        """Run the first attempt, and a second endpoint in parallel once the first is slow."""
        first = attempts[0]
        second = next((a for a in attempts if a.endpoint != first.endpoint and a.retry == 0), None)
        primary = self.run.table.endpoints[first.endpoint]
        if second is None or not self._admit(primary):
            return None  # nothing to hedge with, or the primary is skipped: the plain walk takes over

        def start_second() -> asyncio.Task[Ready | None] | None:
            backup = self.run.table.endpoints[second.endpoint]
            if self.done:
                return None
            if backup.config.context_window_tokens <= self.window_floor:
                self._skip(second.endpoint, "context-window")  # the first failed on a window no larger
                return None
            return asyncio.ensure_future(self._send(backup, second)) if self._admit(backup) else None

        served = await race(
            asyncio.ensure_future(self._send(primary, first)),
            start_second,
            delay=self.plan.policy.hedge_after_ms / 1000,
            is_decided=lambda: self.done,
        )
        if served is not None:
            self._label_hedge_loser(served)
        # The plan's remaining attempts of both endpoints are retries; a fresh walk decides about them.
        attempts[:] = [
            a for a in attempts if not (a.retry == 0 and a.endpoint in (first.endpoint, second.endpoint))
        ]
        return served

    def _label_hedge_loser(self, winner: Ready) -> None:
        """The attempt cancelled because the other one won lost a hedge: no client left, nothing failed."""
        records = self.outcome.records
        for index, record in enumerate(records):
            if record.outcome == "cancelled" and record.endpoint != winner.endpoint.config.name:
                records[index] = record._replace(outcome=HEDGE_LOST)


def backoff_seconds(plan: Plan, retry: int, *, retry_after: float | None, rng: random.Random) -> float:
    """Full-jitter exponential backoff for the n-th retry, never shorter than the upstream's Retry-After."""
    policy = plan.policy
    ceiling = min(policy.max_backoff_ms, policy.backoff_ms * 2 ** (retry - 1)) / 1000
    delay = rng.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)
