"""Route budgets: spend per route in fixed windows, and whether this window's budget is spent.

The planner only reads `RouterState.spent_routes`; the sidecar keeps one `RouteSpend` per route with a
budget (in the RoutingTable, carried across reloads by route name), adds each served request's cost when
the request is recorded, and lists the spent routes when it builds the planner's state. Windows are
aligned to the wall clock (an hourly budget resets at the top of the hour), counted by each sidecar.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config.model import BudgetConfig


class RouteSpend:
    """USD spent by one route in the current window of `window_seconds`."""

    def __init__(self, budget: BudgetConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.budget = budget
        self._clock = clock
        self._window = self._current_window()
        self._spent = 0.0

    def _current_window(self) -> int:
        return int(self._clock() // self.budget.window_seconds)

    def _roll(self) -> None:
        window = self._current_window()
        if window != self._window:
            self._window, self._spent = window, 0.0

    @property
    def spent_usd(self) -> float:
        self._roll()
        return self._spent

    @property
    def is_spent(self) -> bool:
        return self.spent_usd >= self.budget.usd

    def add(self, usd: float) -> None:
        self._roll()
        self._spent += usd

    def seconds_left(self) -> int:
        """Whole seconds until the window (and so the budget) starts again; at least 1."""
        end = (self._current_window() + 1) * self.budget.window_seconds
        return max(1, int(end - self._clock() + 0.999))

    def reconfigure(self, budget: BudgetConfig) -> None:
        """A reloaded budget: the spend of this window is kept unless the window length changed."""
        if budget.window_seconds != self.budget.window_seconds:
            self._spent, self.budget = 0.0, budget
            self._window = self._current_window()
        self.budget = budget
