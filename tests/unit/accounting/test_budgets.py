"""RouteSpend: spend per route in wall-clock-aligned windows."""

from __future__ import annotations

import pytest

from support.clock import FakeClock
from switchboard_proxy.accounting.budgets import RouteSpend
from switchboard_proxy.config.model import BudgetConfig

HOURLY = BudgetConfig(usd=1.0, window_seconds=3600, action="reject")


def test_spent_once_the_budget_is_reached() -> None:
    spend = RouteSpend(HOURLY, clock=FakeClock(7200.0))
    spend.add(0.6)
    assert not spend.is_spent and spend.spent_usd == pytest.approx(0.6)
    spend.add(0.4)
    assert spend.is_spent


def test_a_new_window_starts_from_zero_at_the_top_of_the_hour() -> None:
    clock = FakeClock(7200.0 + 3599.0)
    spend = RouteSpend(HOURLY, clock=clock)
    spend.add(5.0)
    assert spend.is_spent and spend.seconds_left() == 1
    clock.now = 7200.0 + 3600.0
    assert not spend.is_spent and spend.spent_usd == 0.0
    assert spend.seconds_left() == 3600


def test_seconds_left_rounds_up() -> None:
    spend = RouteSpend(HOURLY, clock=FakeClock(7200.0 + 100.5))
    assert spend.seconds_left() == 3500


def test_reconfigure_keeps_the_spend_unless_the_window_changes() -> None:
    clock = FakeClock(7200.0)
    spend = RouteSpend(HOURLY, clock=clock)
    spend.add(0.8)
    spend.reconfigure(BudgetConfig(usd=0.5, window_seconds=3600, action="cheapest"))
    assert spend.is_spent and spend.budget.action == "cheapest"
    spend.reconfigure(BudgetConfig(usd=0.5, window_seconds=60, action="cheapest"))
    assert not spend.is_spent and spend.spent_usd == 0.0
