"""`RoutingTable`: one `RouterConfig` plus its live objects; what a request reads once at entry.

Built by the reloader from a validated config. Live per-endpoint objects (breaker, limits, latency
estimates) and per-route retry budgets are carried over from the previous table by name, so a reload
never forgets that an endpoint is down. Keys are resolved here, from environment variables or files in
the credentials directory, and never leave this module except into an upstream request header.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .accounting.budgets import RouteSpend
from .config import EndpointConfig, RouterConfig
from .execution.breaker import CircuitBreaker
from .execution.limits import ConcurrencyLimit, RetryBudget, TokenBucket
from .routing import EndpointState, RouterState

log = logging.getLogger("switchboard.proxy")

EWMA_WEIGHT = 0.2  # recent samples dominate within ~10 requests, one slow outlier does not


class Ewma:
    """Exponentially weighted moving average; 0.0 until the first sample."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def add(self, sample: float) -> None:
        self.value = sample if self.value == 0.0 else self.value + EWMA_WEIGHT * (sample - self.value)


@dataclass(eq=False)
class EndpointRuntime:
    """Live state of one endpoint, shared by all routes and kept across reloads."""

    config: EndpointConfig
    breaker: CircuitBreaker
    concurrency: ConcurrencyLimit
    rate: TokenBucket
    token_rate: TokenBucket
    latency_ms: Ewma = field(default_factory=Ewma)
    ttft_ms: Ewma = field(default_factory=Ewma)
    key: str = field(default="", repr=False)

    @classmethod
    def create(cls, config: EndpointConfig) -> EndpointRuntime:
        return cls(
            config=config,
            breaker=CircuitBreaker(config.breaker.consecutive_failures, config.breaker.open_seconds),
            concurrency=ConcurrencyLimit(config.max_concurrency),
            rate=TokenBucket(config.requests_per_minute),
            token_rate=TokenBucket(config.tokens_per_minute),
        )

    def reconfigure(self, config: EndpointConfig) -> None:
        """Take a reloaded config's settings, keeping breaker state, in-flight counts and estimates."""
        self.config = config
        self.breaker.configure(config.breaker.consecutive_failures, config.breaker.open_seconds)
        self.concurrency.limit = config.max_concurrency
        if self.rate.rate_per_minute != config.requests_per_minute:
            self.rate = TokenBucket(config.requests_per_minute)
        if self.token_rate.rate_per_minute != config.tokens_per_minute:
            self.token_rate = TokenBucket(config.tokens_per_minute)

    def limited(self) -> str:
        if self.concurrency.is_full:
            return "concurrency-limit"
        if self.rate.is_empty:
            return "rate-limit"
        if self.token_rate.is_empty:
            return "token-rate-limit"
        return ""

    def snapshot(self) -> EndpointState:
        return EndpointState(
            circuit=self.breaker.state,
            inflight=self.concurrency.inflight,
            latency_ms=self.latency_ms.value,
            ttft_ms=self.ttft_ms.value,
            limited=self.limited(),
        )


class LiveStates(Mapping[str, EndpointState]):
    """The planner's view of endpoint state, computed on access (a plan reads only a few endpoints)."""

    def __init__(self, endpoints: Mapping[str, EndpointRuntime]) -> None:
        self._endpoints = endpoints
        self._seen: dict[str, EndpointState] = {}  # one snapshot per endpoint per decision

    def __getitem__(self, name: str) -> EndpointState:
        state = self._seen.get(name)
        if state is None:
            state = self._seen[name] = self._endpoints[name].snapshot()
        return state

    def get(self, name: str, default: EndpointState | None = None) -> EndpointState | None:  # type: ignore[override]
        # Mapping.get goes through __getitem__ and a KeyError; this is the planner's hot path.
        return self[name] if name in self._endpoints else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._endpoints)

    def __len__(self) -> int:
        return len(self._endpoints)


@dataclass(frozen=True)
class Credentials:
    """Where keys come from: the process environment and an optional directory of files."""

    directory: Path | None = None

    def resolve(self, endpoint: EndpointConfig) -> str:
        source = endpoint.api_key
        if source.source == "env":
            return os.environ.get(source.name, "").strip()
        if source.source == "file" and self.directory is not None:
            try:
                return (self.directory / source.name).read_text().strip()
            except OSError:
                return ""
        return ""

    def fingerprint(self) -> tuple[tuple[str, int], ...]:
        """mtimes of the credential files, so a rotated Secret triggers a rebuild."""
        if self.directory is None or not self.directory.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.directory.iterdir() if p.is_file()))


@dataclass(eq=False)
class RoutingTable:
    """A config and its live objects: read once per request, replaced whole on reload."""

    config: RouterConfig
    endpoints: dict[str, EndpointRuntime]
    retry_budgets: dict[str, RetryBudget]
    source: str
    loaded_at: float = field(default_factory=time.time)
    rng: random.Random = field(default_factory=random.Random)
    stopped_variants: set[tuple[str, str]] = field(default_factory=set)
    plan_memo: dict[Any, Any] = field(default_factory=dict)  # the planner's, for this config only
    spend: dict[str, RouteSpend] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        config: RouterConfig,
        *,
        credentials: Credentials,
        source: str,
        previous: RoutingTable | None = None,
    ) -> RoutingTable:
        """A table for `config`, reusing the live objects of `previous` for what remains."""
        endpoints: dict[str, EndpointRuntime] = {}
        for name, endpoint in config.endpoints.items():
            runtime = previous.endpoints.get(name) if previous else None
            if runtime is None:
                runtime = EndpointRuntime.create(endpoint)
            else:
                runtime.reconfigure(endpoint)
            runtime.key = credentials.resolve(endpoint)
            if endpoint.api_key.source != "none" and not runtime.key:
                log.warning(
                    "endpoint %s: no API key found (%s %s); sending none",
                    name,
                    endpoint.api_key.source,
                    endpoint.api_key.name,
                )
            endpoints[name] = runtime
        budgets = {}
        for name, route in config.routes.items():
            percent = route.variants[0].policy.retry_budget_percent
            budget = previous.retry_budgets.get(name) if previous else None
            budgets[name] = (
                budget if budget is not None and budget.percent == percent else RetryBudget(percent)
            )
        stopped = {key for key in previous.stopped_variants if key[0] in config.routes} if previous else set()
        return cls(
            config=config,
            endpoints=endpoints,
            retry_budgets=budgets,
            source=source,
            stopped_variants=stopped,
            spend=_carry_spend(config, previous.spend if previous else {}),
        )

    def state(self) -> RouterState:
        """The planner's view of this table's live state."""
        return RouterState(
            endpoints=LiveStates(self.endpoints),
            spent_routes=frozenset(name for name, spend in self.spend.items() if spend.is_spent),
            stopped_variants=frozenset(self.stopped_variants),
            memo=self.plan_memo,
        )


def _carry_spend(config: RouterConfig, previous: Mapping[str, RouteSpend]) -> dict[str, RouteSpend]:
    """One RouteSpend per route with a budget; a reload keeps what the route spent in this window."""
    spend = {}
    for name, route in config.routes.items():
        if route.budget is None:
            continue
        kept = previous.get(name)
        if kept is None:
            kept = RouteSpend(route.budget)
        else:
            kept.reconfigure(route.budget)
        spend[name] = kept
    return spend
