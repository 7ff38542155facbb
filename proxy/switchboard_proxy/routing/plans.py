"""The planner's output types: `Plan` (the decision for one request) and its `Attempt`s, plain data.

`expand()` turns endpoints in order into attempts, retries included; the planner calls it, and `Layouts`
calls it once per variant for the case where every endpoint is eligible in the layout's own order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from switchboard_proxy.config import EndpointConfig, PolicyConfig, RouteConfig, VariantConfig

from .exploring import Pick
from .reasons import Rejection
from .request import Priority

Stage = Literal["primary", "fallback"]
Refusal = Literal["", "budget-exhausted"]
# A route with session affinity: did the session's own endpoint get the request (hit), or did an
# ineligible one hand it to another (moved)? "" when the route has no affinity or no session key.
AffinityResult = Literal["", "hit", "moved"]
Planned = tuple[EndpointConfig, Stage, str]  # endpoint, stage, why (before retries are expanded)


class Attempt(NamedTuple):
    """One try of one endpoint; `retry` 0 is the first try, 1.. are same-endpoint retries."""

    endpoint: str
    stage: Stage
    retry: int
    timeout_ms: int
    note: str


class Plan(NamedTuple):
    """The decision for one request: plain data, printable by `switchboard explain`."""

    route: RouteConfig
    variant: VariantConfig
    match_reason: str
    priority: Priority
    deadline_ms: int
    attempts: tuple[Attempt, ...]
    rejections: tuple[Rejection, ...]
    shadow: str = ""
    refusal: Refusal = ""
    affinity: AffinityResult = ""
    pick: Pick | None = None  # strategy explore: the posteriors and why the first endpoint was chosen

    @property
    def policy(self) -> PolicyConfig:
        return self.variant.policy

    @property
    def endpoints(self) -> list[str]:
        """Distinct endpoints in attempt order."""
        return list(dict.fromkeys(a.endpoint for a in self.attempts))


def expand(planned: Iterable[Planned], policy: PolicyConfig, timeout_ms: int) -> tuple[Attempt, ...]:
    """Every planned endpoint's first try followed by its same-endpoint retries, in plan order."""
    retries = range(1 + policy.retry_attempts)
    return tuple(
        Attempt(endpoint.name, stage, retry, timeout_ms, f"retry {retry}" if retry else note)
        for endpoint, stage, note in planned
        for retry in retries
    )
