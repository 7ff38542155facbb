"""`RoutingTable`: one `RouterConfig` plus its live objects; what a request reads once at entry.

Built by the reloader from a validated config. Live per-endpoint objects (the admission gate with its
breaker and limits, latency estimates) and per-route retry budgets, spend and experiment guards are
carried over from the previous table by name, so a reload never forgets that an endpoint is down. The
planner's layouts (every variant's pool and chain after replacements) are worked out here, once per
config. Keys are resolved here, from environment variables or files in the credentials directory, and
never leave this module except into an upstream request header.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..accounting.exploring import ExploreLedger
from ..accounting.guardrails import VariantGuard
from ..config import EndpointConfig, RouterConfig
from ..routing import EndpointState, RouterState
from ..routing.layouts import Layouts
from .budgeting import BudgetAccount
from .fleet import Fleet
from .leasing import Gate
from .limits import RetryBudget

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
    gate: Gate
    latency_ms: Ewma = field(default_factory=Ewma)
    ttft_ms: Ewma = field(default_factory=Ewma)
    key: str = field(default="", repr=False)

    @classmethod
    def create(cls, config: EndpointConfig, *, fleet: Fleet | None = None) -> EndpointRuntime:
        return cls(config=config, gate=Gate(config, fleet=fleet))

    def reconfigure(self, config: EndpointConfig) -> None:
        """Take a reloaded config's settings, keeping circuit state, in-flight counts and estimates."""
        self.config = config
        self.gate.reconfigure(config)

    def snapshot(self) -> EndpointState:
        return EndpointState(
            circuit=self.gate.breaker.state,
            inflight=self.gate.inflight,
            latency_ms=self.latency_ms.value,
            ttft_ms=self.ttft_ms.value,
            limited=self.gate.limited(),
        )


class LiveStates(dict[str, EndpointState]):
    """The planner's view of endpoint state, each endpoint's snapshot taken on first access (a plan reads
    only a few endpoints) and then read like any dict entry, once per decision."""

    __slots__ = ("_endpoints",)

    def __init__(self, endpoints: Mapping[str, EndpointRuntime]) -> None:
        super().__init__()
        self._endpoints = endpoints

    def __missing__(self, name: str) -> EndpointState:
        state = self[name] = self._endpoints[name].snapshot()  # a KeyError for an unknown endpoint
        return state


class SpentRoutes:
    """Routes whose budget window is spent, asked one route at a time (a request asks about one)."""

    __slots__ = ("_budgets",)

    def __init__(self, budgets: Mapping[str, BudgetAccount]) -> None:
        self._budgets = budgets

    def __contains__(self, route: object) -> bool:
        account = self._budgets.get(route) if isinstance(route, str) else None
        return account is not None and account.is_spent


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
    layouts: Layouts
    guard: VariantGuard
    budgets: dict[str, BudgetAccount] = field(default_factory=dict)
    fleet: Fleet | None = None
    explore: ExploreLedger = field(default_factory=ExploreLedger)
    loaded_at: float = field(default_factory=time.time)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(
        cls,
        config: RouterConfig,
        *,
        credentials: Credentials,
        source: str,
        previous: RoutingTable | None = None,
        fleet: Fleet | None = None,
    ) -> RoutingTable:
        """A table for `config`, reusing the live objects of `previous` for what remains; with a `fleet`,
        budgets, rate buckets and circuit signals are shared through it."""
        return cls(
            config=config,
            endpoints=_carry_endpoints(config, credentials, previous.endpoints if previous else {}, fleet),
            retry_budgets=_carry_retry_budgets(config, previous.retry_budgets if previous else {}),
            source=source,
            layouts=Layouts(config),
            guard=VariantGuard.for_config(config, previous.guard if previous else None),
            budgets=_carry_budgets(config, previous.budgets if previous else {}, fleet),
            fleet=fleet,
            explore=ExploreLedger.for_config(config, previous.explore if previous else None),
        )

    def state(self) -> RouterState:
        """The planner's view of this table's live state."""
        return RouterState(
            endpoints=LiveStates(self.endpoints),
            spent_routes=SpentRoutes(self.budgets),
            stopped_variants=self.guard.stopped,
            layouts=self.layouts,
            explore_tallies=self.explore.tallies,
        )


def _carry_endpoints(
    config: RouterConfig,
    credentials: Credentials,
    previous: Mapping[str, EndpointRuntime],
    fleet: Fleet | None,
) -> dict[str, EndpointRuntime]:
    endpoints: dict[str, EndpointRuntime] = {}
    for name, endpoint in config.endpoints.items():
        runtime = previous.get(name)
        if runtime is None:
            runtime = EndpointRuntime.create(endpoint, fleet=fleet)
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
    return endpoints


def _carry_retry_budgets(config: RouterConfig, previous: Mapping[str, RetryBudget]) -> dict[str, RetryBudget]:
    budgets = {}
    for name, route in config.routes.items():
        percent = route.variants[0].policy.retry_budget_percent
        budget = previous.get(name)
        budgets[name] = budget if budget is not None and budget.percent == percent else RetryBudget(percent)
    return budgets


def _carry_budgets(
    config: RouterConfig, previous: Mapping[str, BudgetAccount], fleet: Fleet | None
) -> dict[str, BudgetAccount]:
    """One BudgetAccount per route with a budget; a reload keeps what the route spent in this window."""
    budgets = {}
    for name, route in config.routes.items():
        if route.budget is None:
            continue
        kept = previous.get(name)
        if kept is None:
            kept = BudgetAccount(name, route.budget, fleet=fleet)
        else:
            kept.reconfigure(route.budget)
        budgets[name] = kept
    return budgets
