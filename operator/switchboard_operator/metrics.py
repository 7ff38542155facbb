"""Every `switchboard_operator_*` metric, declared once, in one `OperatorMetrics` with its own registry.

Recorded by the handlers (reconciles, webhook admissions) and the upkeep loop; served on the
`--metrics-port` listener (`monitoring`). SPEC section 7 names four of them:
- `switchboard_operator_reconciles_total{result}`: success | error (the API server failed us);
- `switchboard_operator_compile_problems{namespace}`: resources left out of the namespace's last compile;
- `switchboard_operator_webhook_admissions_total{result}`: injected | skipped (already injected) | error;
- `switchboard_operator_last_success_timestamp_seconds`: when a reconcile (or a resync round with nothing
  to do) last succeeded; absent until then.
Two more carry what only the compiled config knows, for the "spend rate over budget" alert (the sidecar
exports what a route spent, not what it may spend): `switchboard_operator_route_budget_usd{namespace,route}`
and `switchboard_operator_route_budget_window_seconds{namespace,route}`.

Only the leading replica reconciles; a replica that stops leading forgets its per-namespace series
(`forget_namespaces`), so that the fleet's figures come from the one replica that is current. Labels are
namespaces and route names: bounded by the config, never by a request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RECONCILE_RESULTS = ("success", "error")
ADMISSION_RESULTS = ("injected", "skipped", "error")


class LastSuccess(Collector):
    """`switchboard_operator_last_success_timestamp_seconds`, absent until a first success: a replica that
    never reconciled (a follower, or a leader with nothing to do yet) must not say "1970", which the
    "not reconciling" alert would read as a very long time ago."""

    def __init__(self) -> None:
        self.at: float | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.at is not None:
            yield GaugeMetricFamily(
                "switchboard_operator_last_success_timestamp_seconds",
                "Unix time of the last successful reconcile (or resync round with nothing to do).",
                value=self.at,
            )


class OperatorMetrics:
    """The metrics of one operator process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.reconciles = Counter(
            "switchboard_operator_reconciles_total",
            "Namespace reconciles by result (success, error: the API server could not be read or written).",
            ["result"],
            registry=self.registry,
        )
        self.compile_problems = Gauge(
            "switchboard_operator_compile_problems",
            "Resources left out of the namespace's last compile (see their status conditions).",
            ["namespace"],
            registry=self.registry,
        )
        self.admissions = Counter(
            "switchboard_operator_webhook_admissions_total",
            "Pods seen by the injection webhook by result (injected, skipped, error).",
            ["result"],
            registry=self.registry,
        )
        self.last_success = LastSuccess()
        self.registry.register(self.last_success)
        self.budget_usd = Gauge(
            "switchboard_operator_route_budget_usd",
            "A route's spend limit per window (compiled config), in US dollars.",
            ["namespace", "route"],
            registry=self.registry,
        )
        self.budget_window = Gauge(
            "switchboard_operator_route_budget_window_seconds",
            "The length of a route's budget window (compiled config), in seconds.",
            ["namespace", "route"],
            registry=self.registry,
        )
        for result in RECONCILE_RESULTS:
            self.reconciles.labels(result=result)
        for result in ADMISSION_RESULTS:
            self.admissions.labels(result=result)
        self._budgets: dict[str, set[str]] = {}

    def record_reconcile(
        self, namespace: str, *, problems: int, budgets: Mapping[str, tuple[float, int]], at: float
    ) -> None:
        """A successful reconcile: its problem count, its routes' budgets (usd, window seconds), the time."""
        self.reconciles.labels(result="success").inc()
        self.compile_problems.labels(namespace=namespace).set(problems)
        for route in self._budgets.get(namespace, set()) - set(budgets):
            self.budget_usd.remove(namespace, route)
            self.budget_window.remove(namespace, route)
        for route, (usd, window_seconds) in budgets.items():
            self.budget_usd.labels(namespace=namespace, route=route).set(usd)
            self.budget_window.labels(namespace=namespace, route=route).set(window_seconds)
        self._budgets[namespace] = set(budgets)
        self.last_success.at = at

    def record_resync(self, at: float) -> None:
        """A resync round reconciled every known namespace (perhaps none): all is current."""
        self.last_success.at = at

    def record_failure(self) -> None:
        self.reconciles.labels(result="error").inc()

    def record_admission(self, result: str) -> None:
        self.admissions.labels(result=result).inc()

    def forget_namespaces(self) -> None:
        """This replica stopped leading: its per-namespace figures are no longer current."""
        self.compile_problems.clear()
        self.budget_usd.clear()
        self.budget_window.clear()
        self._budgets.clear()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
