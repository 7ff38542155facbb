"""The typed words of one walk over a plan: why an attempt was skipped, how a sent one ended.

An `AttemptRecord` says what happened to one planned attempt. Its outcome is one of:
- a `Refusal`: the endpoint's gate turned it away before anything was sent (circuit, limits, shedding);
- a `Rule`: the walk's own rules skipped it (a window no larger, a backoff past the deadline, a spent
  retry budget);
- a `Failure` (classify.py): it was sent and failed;
- an `Ended`: it was sent and succeeded, was cancelled, lost a hedge, or failed after its first byte.
Metrics, the access log and `X-Switchboard-Fallback-Reason` read these values; nothing parses them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from .classify import Failure


class Refusal(StrEnum):
    """Why an endpoint's gate turned an attempt away before anything was sent."""

    CIRCUIT_OPEN = "circuit-open"
    CONCURRENCY = "concurrency-limit"  # full for every priority, and no queue
    SHED = "shed"  # over its priority's share with no room to wait: kept for more important work
    DEADLINE = "queue-deadline"  # could not meet its deadline waiting for a slot
    RATE = "rate-limit"
    TOKEN_RATE = "token-rate-limit"
    BUDGET = "budget"  # the route's budget cannot cover this attempt's worst case


# The sidecar's own refusals and the trigger each counts as: a policy fails over on them only when its
# triggers include that word (the sidecar's own overload is `overloaded`, its own rate limit `rate-limited`).
REFUSAL_TRIGGERS: dict[Refusal, str] = {
    Refusal.CONCURRENCY: "overloaded",
    Refusal.SHED: "overloaded",
    Refusal.DEADLINE: "overloaded",
    Refusal.RATE: "rate-limited",
    Refusal.TOKEN_RATE: "rate-limited",
}


class Rule(StrEnum):
    """Why the walk itself skipped an attempt."""

    CONTEXT_WINDOW = "context-window"  # after a context-length error, only larger windows are tried
    BACKOFF_PAST_DEADLINE = "backoff-past-deadline"
    RETRY_BUDGET = "retry-budget"


class Ended(StrEnum):
    """How a sent attempt ended, other than by a classified failure."""

    SUCCESS = "success"
    CANCELLED = "cancelled"  # the client left (or a bug): no verdict on the endpoint
    HEDGE_LOST = "hedge-lost"  # cancelled because the hedged attempt answered first
    MIDSTREAM_FAILURE = "midstream-failure"  # a stream that failed after its first byte reached the client


Skip = Refusal | Rule
Outcome = Failure | Ended | Skip


class AttemptRecord(NamedTuple):
    """What happened to one planned attempt."""

    endpoint: str
    outcome: Outcome
    status: int = 0
    seconds: float = 0.0

    @property
    def skipped(self) -> bool:
        return isinstance(self.outcome, Refusal | Rule)

    @property
    def label(self) -> str:
        """The outcome as metrics and the access log show it: `success`, `timeout`, `skipped:shed`."""
        return f"skipped:{self.outcome}" if self.skipped else str(self.outcome)
