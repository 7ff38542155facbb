"""`BudgetAccount`: one route's budget books in this sidecar: reservations before the call, settlements after.

Every attempt of a route with a budget reserves its worst case (accounting/budgets.py) before it is
sent, through its lease; the lease settles the reservation to the accounted cost when the answer is in,
or releases it when nothing was served. So concurrent requests cannot overshoot: the last one that fits
is served and the next is refused (`reject`) or sent to the cheapest endpoint (`cheapest`, whose
attempts are `exempt`: counted, never refused).

Alone (no `--state`) the account is the whole truth. With a fleet (`fleet.Fleet`, Redis) each sidecar
writes its own spent and reserved amounts into the route's window key and a reservation is one atomic
script over every sidecar's; settlements are sent in the background. While the fleet's state is away,
the sidecar reserves only from its share of what was left when it last saw the fleet (what remained /
live sidecars), and rewrites its own amounts when the state is back (a restarted Redis learns them
again). Only the lease calls `reserve`, `settle` and `release`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..accounting.budgets import (
    fallback_allowance,
    fits,
    pico_to_usd,
    seconds_left,
    usd_to_pico,
    window_index,
)
from ..config.model import BudgetConfig

if TYPE_CHECKING:
    from .fleet import Fleet


class Reservation(NamedTuple):
    """What one attempt holds of a budget: `pico` in window `window`."""

    window: int
    pico: int


class BudgetAccount:
    """USD spent and reserved by one route in the current window (see the module docstring)."""

    def __init__(
        self,
        route: str,
        budget: BudgetConfig,
        *,
        fleet: Fleet | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.route = route
        self.budget = budget
        self.limit = usd_to_pico(budget.usd)
        self.fleet = fleet
        self._clock = clock
        self.window = window_index(clock(), budget.window_seconds)
        self.own_spent = 0  # settled by this sidecar in this window
        self.own_reserved = 0  # held by this sidecar's attempts in flight
        self.fleet_spent = 0  # every sidecar's, as last seen (equal to our own when alone)
        self.fleet_used = 0  # spent + reserved of every sidecar, as last seen
        self._fallback_base: int | None = None  # own spent + reserved when the fleet went away
        self._fallback_room = 0

    def key(self, window: int | None = None) -> str:
        return f"budget:{self.route}:{self.budget.window_seconds}:{self.window if window is None else window}"

    def _roll(self) -> None:
        window = window_index(self._clock(), self.budget.window_seconds)
        if window != self.window:
            self.window, self.own_spent, self.own_reserved = window, 0, 0
            self.fleet_spent = self.fleet_used = 0
            self._fallback_base = None

    async def reserve(self, want: int, *, exempt: bool = False) -> Reservation | None:
        """Hold `want` pUSD for one attempt, or None when it does not fit (an exempt one always fits)."""
        self._roll()
        window = self.window
        fleet = self.fleet
        if fleet is not None and fleet.is_up:
            answer = await fleet.reserve_budget(self.key(window), limit=self.limit, want=want, force=exempt)
            if answer is not None:
                granted, spent, reserved = answer
                self._fallback_base = None
                self.fleet_spent, self.fleet_used = spent, spent + reserved + (want if granted else 0)
                if not granted:
                    return None
                return self._hold(window, want)
        if not exempt and not self._fits_alone(want):
            return None
        return self._hold(window, want)

    def _fits_alone(self, want: int) -> bool:
        own = self.own_spent + self.own_reserved
        if self.fleet is None:
            return fits(spent=self.own_spent, reserved=self.own_reserved, want=want, limit=self.limit)
        live = self.fleet.live_sidecars
        if self._fallback_base is None:
            self._fallback_base = own
            self._fallback_room = fallback_allowance(
                limit=self.limit, fleet_used=max(self.fleet_used, own), live_sidecars=live
            )
        # Both bounds: its share of what the fleet had left when last seen (which may be a little stale),
        # and its share of the whole window, which holds however stale that view was.
        return own + want - self._fallback_base <= self._fallback_room and own + want <= self.limit // max(
            1, live
        )

    def _hold(self, window: int, want: int) -> Reservation:
        if window == self.window:
            self.own_reserved += want
        return Reservation(window, want)

    def settle(self, reservation: Reservation, actual: int) -> None:
        """The attempt was served and cost `actual` pUSD: its reservation becomes that spend."""
        self._roll()
        reserved_delta = 0
        if reservation.window == self.window:
            self.own_reserved -= reservation.pico
            reserved_delta = -reservation.pico
        self.own_spent += actual
        if self.fleet is None:
            self.fleet_spent, self.fleet_used = self.own_spent, self.own_spent + self.own_reserved
        else:
            self.fleet_spent += actual
            self.fleet_used += actual + reserved_delta
            self.fleet.add_budget_delta(self.key(), spent=actual, reserved=reserved_delta)

    def release(self, reservation: Reservation) -> None:
        """Nothing was served (or nothing is known to have been): the reservation is given back."""
        self._roll()
        if reservation.window != self.window:
            return
        self.own_reserved -= reservation.pico
        if self.fleet is None:
            self.fleet_used = self.own_spent + self.own_reserved
        else:
            self.fleet_used -= reservation.pico
            self.fleet.add_budget_delta(self.key(), spent=0, reserved=-reservation.pico)

    def observe_fleet(self, *, spent: int, reserved: int) -> None:
        """The fleet's totals for the current window, read by the fleet's sync loop."""
        self.fleet_spent, self.fleet_used = spent, spent + reserved

    @property
    def spent_usd(self) -> float:
        self._roll()
        return pico_to_usd(self.fleet_spent if self.fleet is not None else self.own_spent)

    @property
    def remaining_usd(self) -> float:
        """What can still be reserved: the budget less what is spent and held."""
        self._roll()
        used = self.fleet_used if self.fleet is not None else self.own_spent + self.own_reserved
        return pico_to_usd(max(0, self.limit - used))

    @property
    def is_spent(self) -> bool:
        """Nothing at all is left (the planner's early word; the reservation is the exact one)."""
        self._roll()
        used = self.fleet_used if self.fleet is not None else self.own_spent + self.own_reserved
        return used >= self.limit

    def seconds_left(self) -> int:
        return seconds_left(self._clock(), self.budget.window_seconds)

    def reconfigure(self, budget: BudgetConfig) -> None:
        """A reloaded budget: the window's books are kept unless the window length changed."""
        if budget.window_seconds != self.budget.window_seconds:
            self.budget = budget
            self.window = window_index(self._clock(), budget.window_seconds)
            self.own_spent = self.own_reserved = self.fleet_spent = self.fleet_used = 0
            self._fallback_base = None
        self.budget = budget
        self.limit = usd_to_pico(budget.usd)
