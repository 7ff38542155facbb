"""`ExploreLedger`: this sidecar's own evidence of each endpoint's quality on routes that explore.

The planner's posteriors are the compiled priors (the declared `qualityPrior` plus the fleet evidence the
operator folded in) plus these tallies. A request's quality counts at once when it ends (1 for a success
that was neither truncated nor empty, 0 for a failure), and is replaced by the caller's feedback score if
one comes (`amend`). A reload keeps a route's tallies while its compiled explore settings are unchanged;
when the priors moved, the operator has folded the fleet's evidence (this sidecar's included) into them,
so the tallies start afresh rather than count the same requests twice.
"""

from __future__ import annotations

from ..config import RouterConfig
from ..config.model import ExploreConfig
from ..routing.exploring import Tally


class ExploreLedger:
    """route -> endpoint -> Tally, for the routes of one config that explore."""

    def __init__(self, explored: dict[str, ExploreConfig] | None = None) -> None:
        self._settings = explored or {}
        self.tallies: dict[str, dict[str, Tally]] = {name: {} for name in self._settings}

    @classmethod
    def for_config(cls, config: RouterConfig, previous: ExploreLedger | None) -> ExploreLedger:
        """A ledger for `config`, keeping `previous` tallies of every route whose priors are unchanged."""
        ledger = cls({n: r.explore for n, r in config.routes.items() if r.explore is not None})
        if previous is not None:
            for name, settings in ledger._settings.items():
                if previous._settings.get(name) == settings:
                    ledger.tallies[name] = previous.tallies.get(name, {})
        return ledger

    def explores(self, route: str) -> bool:
        return route in self.tallies

    def observe(self, route: str, endpoint: str, quality: float) -> None:
        """One more observation of `endpoint` on `route` with this quality (0..1)."""
        tallies = self.tallies.get(route)
        if tallies is not None:
            seen = tallies.get(endpoint, Tally())
            tallies[endpoint] = Tally(seen.observations + 1, seen.quality_sum + quality)

    def amend(self, route: str, endpoint: str, *, counted: float, score: float) -> None:
        """Replace an observation's quality `counted` by the caller's feedback `score`."""
        tallies = self.tallies.get(route)
        seen = tallies.get(endpoint) if tallies is not None else None
        if tallies is not None and seen is not None:
            tallies[endpoint] = Tally(seen.observations, max(seen.quality_sum + score - counted, 0.0))
