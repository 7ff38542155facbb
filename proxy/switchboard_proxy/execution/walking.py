"""`Walk`: one pass over a plan's attempts, inside one deadline, until one can serve.

The one retry loop of the sidecar (the HTTP client underneath never retries on its own):
- a failure whose trigger is in the policy's `triggers` moves on; any other failure ends the walk;
- a same-endpoint retry waits an exponential, fully jittered backoff (at least the upstream's
  Retry-After) and spends the route's retry budget; moving to another endpoint never waits;
- a timed-out endpoint is not retried while another endpoint is left later in the plan (a stall
  outlasts a deadline);
- after a context-length error only endpoints with a larger window are tried;
- the first attempt may be hedged: after `hedge_after_ms` without an answer a second endpoint starts
  and the first to be servable wins (the loser's outcome is `hedge-lost`);
- each attempt is admitted by its endpoint's gate, which may refuse it (open circuit, limits, shedding)
  and otherwise gives it the lease this module ends: success, the classified failure, or nothing (the
  client left, or the caller's short deadline imposed the timeout).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..accounting.budgets import worst_case_pico
from ..routing import Attempt, Plan
from .attempts import AttemptFailed, AttemptLimits, Clients, Ready, run_attempt
from .classify import NOT_ENDPOINT_FAULTS, Failure
from .hedging import race
from .leasing import BudgetClaim, Lease
from .outcomes import REFUSAL_TRIGGERS, AttemptRecord, Ended, Outcome, Refusal, Rule
from .runtime import EndpointRuntime, RoutingTable
from .upstreams import Call

# Less than this left of the deadline counts as none: an attempt clipped to the deadline ends within a
# clock tick of it, and nothing useful fits in a few milliseconds anyway.
DEADLINE_SLACK_SECONDS = 0.005


@dataclass(eq=False, slots=True)
class Execution:
    """Everything `execute` needs besides the plan; built by the handler per request."""

    table: RoutingTable
    clients: Clients
    call: Call
    deadline: float  # event-loop time by which the caller must have an answer
    rng: random.Random
    estimated_tokens: int = 0  # prompt estimate + requested output, reserved from tokens-per-minute limits
    prompt_tokens: int = 0  # the prompt estimate alone, for a budget's worst case
    max_tokens: int = 0  # the output the caller asked for at most (0: the endpoint's own cap)


class Walk:
    """State of one walk over a plan: what was tried, what is skipped, what the context floor is."""

    def __init__(self, plan: Plan, run: Execution) -> None:
        self.plan = plan
        self.run = run
        self.loop = asyncio.get_running_loop()
        self.records: list[AttemptRecord] = []
        self.sent = 0  # attempts that reached the wire
        self.error: AttemptFailed | None = None  # a failure that ends the walk (not a trigger)
        self.last_failed: AttemptFailed | None = None
        self.deadline_exceeded = False
        self.skip: set[str] = set()
        self.window_floor = 0
        self.last_failure: dict[str, AttemptFailed] = {}
        # A refusal of the sidecar's own that the policy does not fail over on ends the walk (and the
        # seconds the client is told to wait), as does a `reject` budget that cannot cover an attempt.
        self.refused: Refusal | None = None
        self.retry_after = 1
        self.budget_refused = False
        self.budget = run.table.retry_budgets.get(plan.route.name)
        if self.budget is not None:
            self.budget.record_request()
        self.account = run.table.budgets.get(plan.route.name)
        self._cheapest: str | None = None

    @property
    def done(self) -> bool:
        return (
            self.error is not None
            or self.deadline_exceeded
            or self.refused is not None
            or self.budget_refused
        )

    async def run_plan(self) -> Ready | None:
        """Walk `plan.attempts`; the first servable answer, or None (see `error` and `records`)."""
        attempts = list(self.plan.attempts)
        served = await self.hedged_first(attempts) if self.plan.policy.hedge_after_ms and attempts else None
        for index, attempt in enumerate(attempts):
            if served is not None or self.done:
                break
            served = await self.try_attempt(attempt, attempts, index)
        if served is None and self.error is None and self.is_deadline_spent():
            # Nothing served and no time left: the deadline is what ended the walk, whichever rule skipped
            # the attempts after the last one (a backoff that no longer fits, or the deadline check itself).
            self.deadline_exceeded = True
        return served

    def _note(self, name: str, outcome: Outcome, status: int = 0, seconds: float = 0.0) -> None:
        self.records.append(AttemptRecord(name, outcome, status, seconds))

    def _skip(self, name: str, why: Refusal | Rule) -> None:
        self.skip.add(name)
        self._note(name, why)

    async def try_attempt(self, attempt: Attempt, attempts: Sequence[Attempt], index: int) -> Ready | None:
        """Run one planned attempt (`attempts[index]`) unless a rule says to skip it."""
        name = attempt.endpoint
        endpoint = self.run.table.endpoints[name]
        if name in self.skip:
            return None
        if endpoint.config.context_window_tokens <= self.window_floor:
            self._skip(name, Rule.CONTEXT_WINDOW)
            return None
        if attempt.retry and not await self._wait_for_retry(attempt, attempts[index + 1 :]):
            return None
        if self._remaining() <= 0:
            self.deadline_exceeded = True
            return None
        lease = await self._admit(endpoint)
        return None if lease is None else await self.send(endpoint, lease)

    def _remaining(self) -> float:
        return self.run.deadline - self.loop.time()

    def is_deadline_spent(self) -> bool:
        return self._remaining() <= DEADLINE_SLACK_SECONDS

    async def _wait_for_retry(self, attempt: Attempt, ahead: Sequence[Attempt]) -> bool:
        """Wait out a retry's backoff, or say why not (`ahead`: the attempts after this one)."""
        previous = self.last_failure.get(attempt.endpoint)
        others_left = any(a.endpoint not in self.skip and a.endpoint != attempt.endpoint for a in ahead)
        if (
            previous is None
            or previous.failure in NOT_ENDPOINT_FAULTS
            or (previous.failure == Failure.TIMEOUT and others_left)
        ):
            self.skip.add(attempt.endpoint)
            return False
        delay = backoff_seconds(self.plan, attempt.retry, retry_after=previous.retry_after, rng=self.run.rng)
        if delay >= self._remaining():
            self._skip(attempt.endpoint, Rule.BACKOFF_PAST_DEADLINE)
            return False
        if self.budget is not None and not self.budget.try_spend():
            self._skip(attempt.endpoint, Rule.RETRY_BUDGET)
            return False
        await asyncio.sleep(delay)
        return True

    def _queue_deadline(self, endpoint: EndpointRuntime) -> float:
        """How long an attempt may wait for a slot: until it could no longer meet the caller's deadline,
        or, while another endpoint is left in the plan, half of the time left, so the fallback gets the
        other half."""
        name = endpoint.config.name
        if not endpoint.gate.slots.queue.capacity or not any(
            a.endpoint != name and a.endpoint not in self.skip for a in self.plan.attempts
        ):
            return self.run.deadline
        return self.loop.time() + self._remaining() / 2

    async def _admit(self, endpoint: EndpointRuntime) -> Lease | None:
        admitted = await endpoint.gate.admit(
            priority=self.plan.priority,
            deadline=self._queue_deadline(endpoint),
            tokens=self.run.estimated_tokens,
            adaptive=self.plan.route.adaptive_concurrency,
            budget=self._budget_claim(endpoint) if self.account is not None else None,
        )
        if isinstance(admitted, Refusal):
            self._refused(endpoint, admitted)
            return None
        return admitted

    def _refused(self, endpoint: EndpointRuntime, refusal: Refusal) -> None:
        """Skip the endpoint; end the walk when the policy does not fail over on this refusal."""
        self._skip(endpoint.config.name, refusal)
        if refusal == Refusal.BUDGET:
            self.budget_refused = (
                self.plan.route.budget is not None and self.plan.route.budget.action == "reject"
            )
            return
        trigger = REFUSAL_TRIGGERS.get(refusal)
        if trigger is None:
            return  # an open circuit: skipped like the planner skips it
        if self.refused is None and not any(r.outcome in REFUSAL_TRIGGERS for r in self.records[:-1]):
            self.retry_after = endpoint.gate.retry_after(refusal)
        if trigger not in self.plan.policy.triggers:
            self.refused = refusal

    def _budget_claim(self, endpoint: EndpointRuntime) -> BudgetClaim:
        """The attempt's worst case on its route's budget; the cheapest endpoint of a `cheapest` budget is
        exempt (what the route may still use once the budget is spent)."""
        assert self.account is not None
        config, run = endpoint.config, self.run
        pico = worst_case_pico(config, prompt_tokens=run.prompt_tokens, max_tokens=run.max_tokens)
        budget = self.plan.route.budget
        exempt = (
            budget is not None and budget.action == "cheapest" and config.name == self._cheapest_endpoint()
        )
        return BudgetClaim(self.account, pico, exempt)

    def _cheapest_endpoint(self) -> str:
        """The plan's endpoint whose worst case for this request costs least (first in plan order on ties)."""
        if self._cheapest is None:
            endpoints, run = self.run.table.endpoints, self.run
            self._cheapest = min(
                self.plan.endpoints,
                key=lambda name: worst_case_pico(
                    endpoints[name].config, prompt_tokens=run.prompt_tokens, max_tokens=run.max_tokens
                ),
                default="",
            )
        return self._cheapest

    def _limits(self) -> AttemptLimits:
        policy = self.plan.policy
        remaining = max(0.001, self._remaining())
        first_event = min(policy.first_token_ms, policy.total_ms) / 1000
        total = policy.total_ms / 1000
        binding = first_event if self.run.call.stream else total
        return AttemptLimits(
            connect=min(policy.connect_ms / 1000, remaining),
            first_event=min(first_event, remaining),
            total=min(total, remaining),
            clipped=remaining < binding,
            total_clipped=remaining < total,
        )

    async def send(self, endpoint: EndpointRuntime, lease: Lease) -> Ready | None:
        """Send an admitted attempt and end its lease (a stream's lease goes on with the Ready)."""
        self.sent += 1
        started = self.loop.time()
        limits = self._limits()
        try:
            ready = await run_attempt(self.run.clients, endpoint, self.run.call, limits)
        except AttemptFailed as failed:
            # A timeout the caller's short deadline imposed says little about the endpoint's health.
            if failed.failure == Failure.TIMEOUT and limits.clipped:
                lease.abandon()
            else:
                lease.fail(failed.failure, retry_after=failed.retry_after, signal=failed.signal)
            lease.close()
            self._failed(endpoint, failed, self.loop.time() - started)
            return None
        except BaseException:
            # The client left, a hedge lost, or a bug: no verdict on the endpoint either way.
            lease.close()
            self._note(endpoint.config.name, Ended.CANCELLED, 0, self.loop.time() - started)
            raise
        if self.run.call.stream:
            lease.confirm()
            ready.lease = lease  # the stream body owns it from here
        else:
            endpoint.latency_ms.add((ready.first_byte - ready.started) * 1000)
            assert ready.answer is not None  # a JSON answer is inspected where it is read
            lease.succeed(ready.answer.usage, ready.signal)
            lease.close()
        self._note(endpoint.config.name, Ended.SUCCESS, 200, self.loop.time() - started)
        return ready

    def _failed(self, endpoint: EndpointRuntime, failed: AttemptFailed, seconds: float) -> None:
        # The walk keeps its failures past the attempt, and a traceback holds every frame it passed: the
        # request body, the prepared payload and, through this frame, the walk itself. That cycle is
        # freed only by a full collection, which the frozen, high-threshold GC runs rarely, so large
        # bodies piled up in memory (hundreds of MiB under concurrent large prompts) until it ran.
        failed.__traceback__ = failed.__context__ = failed.__cause__ = None
        name = endpoint.config.name
        self._note(name, failed.failure, failed.status, seconds)
        self.last_failure[name] = failed
        self.last_failed = failed
        if failed.failure == Failure.CLIENT_ERROR or failed.failure.value not in self.plan.policy.triggers:
            self.error = failed
        elif failed.failure == Failure.CONTEXT_LENGTH:
            self.window_floor = max(self.window_floor, endpoint.config.context_window_tokens)
            self.skip.add(name)

    async def hedged_first(self, attempts: list[Attempt]) -> Ready | None:
        """Run the first attempt, and a second endpoint in parallel once the first is slow."""
        first = attempts[0]
        second = next((a for a in attempts if a.endpoint != first.endpoint and a.retry == 0), None)
        primary = self.run.table.endpoints[first.endpoint]
        if second is None:
            return None  # nothing to hedge with: the plain walk takes over
        lease = await self._admit(primary)
        if lease is None:
            return None  # the primary is skipped: the plain walk takes over

        async def start_second() -> asyncio.Task[Ready | None] | None:
            backup = self.run.table.endpoints[second.endpoint]
            if self.done:
                return None
            if backup.config.context_window_tokens <= self.window_floor:
                self._skip(second.endpoint, Rule.CONTEXT_WINDOW)  # the first failed on a window no larger
                return None
            backup_lease = await self._admit(backup)
            return None if backup_lease is None else asyncio.ensure_future(self.send(backup, backup_lease))

        served = await race(
            asyncio.ensure_future(self.send(primary, lease)),
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
        for index, record in enumerate(self.records):
            if record.outcome == Ended.CANCELLED and record.endpoint != winner.endpoint.config.name:
                self.records[index] = record._replace(outcome=Ended.HEDGE_LOST)


def backoff_seconds(plan: Plan, retry: int, *, retry_after: float | None, rng: random.Random) -> float:
    """Full-jitter exponential backoff for the n-th retry, never shorter than the upstream's Retry-After."""
    policy = plan.policy
    ceiling = min(policy.max_backoff_ms, policy.backoff_ms * 2 ** (retry - 1)) / 1000
    delay = rng.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)
