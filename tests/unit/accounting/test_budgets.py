"""Budget arithmetic: picodollars, worst cases, what fits, a fleet's fallback share, wall-clock windows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from support.builders import endpoint_config
from switchboard_proxy.accounting.budgets import (
    cost_pico,
    fallback_allowance,
    fits,
    seconds_left,
    token_price_pico,
    usd_to_pico,
    window_index,
    worst_case_pico,
)
from switchboard_proxy.accounting.usage import Usage, cost_usd

PRICED = endpoint_config(
    "e",
    pricing={
        "inputPerMTok": 3.0,
        "outputPerMTok": 15.0,
        "cachedInputPerMTok": 0.3,
        "cacheWritePerMTok": 3.75,
    },
    maxOutputTokens=1000,
)
PLAIN = endpoint_config("p", pricing={"inputPerMTok": 3.0, "outputPerMTok": 15.0}, maxOutputTokens=1000)


def test_prices_are_exact_integers() -> None:
    assert token_price_pico(0.0625) == 62_500 and token_price_pico(15.0) == 15_000_000
    assert usd_to_pico(0.01) == 10_000_000_000


def test_ten_requests_of_a_tenth_fill_the_budget_exactly() -> None:
    want, limit = usd_to_pico(0.001), usd_to_pico(0.01)
    spent = 0
    served = 0
    while fits(spent=spent, reserved=0, want=want, limit=limit):
        spent += want
        served += 1
    assert served == 10  # not 9, as 10 * 0.001 in floats (0.010000000000000002) would say


def test_the_worst_case_is_the_prompt_and_the_most_output_at_full_prices() -> None:
    assert worst_case_pico(PLAIN, prompt_tokens=100, max_tokens=50) == 100 * 3_000_000 + 50 * 15_000_000
    # Writing the prompt to the cache costs more than reading it plain: that is its worst case.
    assert worst_case_pico(PRICED, prompt_tokens=100, max_tokens=50) == 100 * 3_750_000 + 50 * 15_000_000
    # No max_tokens: the endpoint's own output cap is the most it may generate; a larger ask is capped.
    assert worst_case_pico(PRICED, prompt_tokens=0, max_tokens=0) == 1000 * 15_000_000
    assert worst_case_pico(PRICED, prompt_tokens=0, max_tokens=5000) == 1000 * 15_000_000


@given(
    prompt=st.integers(0, 10_000),
    output=st.integers(1, 1000),
    cached=st.integers(0, 10_000),
    written=st.integers(0, 10_000),
)
def test_what_a_request_costs_never_exceeds_its_worst_case(
    prompt: int, output: int, cached: int, written: int
) -> None:
    usage = Usage(prompt, output, min(cached, prompt), written)
    actual = cost_pico(PRICED, usage)
    assert actual <= worst_case_pico(PRICED, prompt_tokens=prompt, max_tokens=output)
    # The budget's books and the cost metrics agree to the picodollar.
    assert actual == usd_to_pico(cost_usd(PRICED, usage))


@given(live=st.integers(1, 50), used=st.integers(0, 10**13), limit=st.integers(1, 10**13))
def test_fallback_shares_together_never_overspend(live: int, used: int, limit: int) -> None:
    share = fallback_allowance(limit=limit, fleet_used=used, live_sidecars=live)
    assert share >= 0 and used + share * live <= max(limit, used)


def test_windows_follow_the_wall_clock() -> None:
    assert window_index(7200.0, 3600) == 2 and window_index(10799.9, 3600) == 2
    assert seconds_left(7200.0 + 3599.0, 3600) == 1
    assert seconds_left(7200.0 + 100.5, 3600) == 3500
    assert seconds_left(7200.0, 3600) == 3600
