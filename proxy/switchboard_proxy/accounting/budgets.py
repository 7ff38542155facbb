"""Budget arithmetic (pure): USD in integer picodollars, worst cases, windows and what still fits.

Money is counted in integer picodollars (10^-12 USD), so that ten requests of $0.001 fill a $0.01 budget
exactly rather than to 0.010000000000000002: a price of 0.0625 USD per Mtok is 62,500 pUSD per token, and
a window holds up to $9 million in a 64-bit integer (Redis's HINCRBY). Windows are aligned to the wall
clock (an hourly budget starts again at the top of the hour) so every sidecar of a fleet agrees on them.

A request reserves its worst case before it is sent (the prompt estimate at the input price plus the
most it may generate at the output price) and settles to its accounted cost after: a reservation fits
while spent + reserved + it <= the budget. `execution/budgeting.py` keeps the books; this module decides.
"""

from __future__ import annotations

import math

from ..config import EndpointConfig
from .usage import Usage

PICO_PER_USD = 10**12
PICO_PER_TOKEN_PER_USD_PER_MTOK = 10**6  # 1 USD per Mtok = 10^-6 USD per token = 10^6 pUSD per token


def usd_to_pico(usd: float) -> int:
    return round(usd * PICO_PER_USD)


def pico_to_usd(pico: int) -> float:
    return pico / PICO_PER_USD


def token_price_pico(usd_per_mtok: float) -> int:
    """pUSD per token at a price in USD per million tokens (exact to 10^-6 USD per Mtok)."""
    return round(usd_per_mtok * PICO_PER_TOKEN_PER_USD_PER_MTOK)


def worst_case_pico(endpoint: EndpointConfig, *, prompt_tokens: int, max_tokens: int) -> int:
    """The most one request may cost on `endpoint`: its prompt estimate at the dearest prompt price (the
    input price, or the cache-write price where writing to the prompt cache costs more, as Anthropic's
    does) plus `max_tokens` (the endpoint's own output cap when the request sets none) at the output
    price."""
    output = min(max_tokens, endpoint.max_output_tokens) if max_tokens else endpoint.max_output_tokens
    prompt_price = max(endpoint.input_per_mtok_usd, endpoint.cache_write_per_mtok_usd)
    return prompt_tokens * token_price_pico(prompt_price) + output * token_price_pico(
        endpoint.output_per_mtok_usd
    )


def cost_pico(endpoint: EndpointConfig, usage: Usage) -> int:
    """What `usage` cost on `endpoint`, as accounted (`usage.cost_usd` in integers): cached prompt tokens
    at the cached price, tokens written to the cache at the cache-write price, the rest at full price."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    return (
        (usage.prompt_tokens - cached - written) * token_price_pico(endpoint.input_per_mtok_usd)
        + cached * token_price_pico(endpoint.cached_input_per_mtok_usd)
        + written * token_price_pico(endpoint.cache_write_per_mtok_usd)
        + usage.completion_tokens * token_price_pico(endpoint.output_per_mtok_usd)
    )


def fits(*, spent: int, reserved: int, want: int, limit: int) -> bool:
    """Does a reservation of `want` fit a budget of `limit` of which `spent` is settled and `reserved`
    held by requests in flight? Inclusive: a budget of exactly ten requests serves ten."""
    return spent + reserved + want <= limit


def fallback_allowance(*, limit: int, fleet_used: int, live_sidecars: int) -> int:
    """What one sidecar may still reserve on its own while the shared state is away: its share of what
    the fleet had left when it was last seen, so that together they cannot overspend."""
    return max(0, limit - fleet_used) // max(1, live_sidecars)


def window_index(now_epoch: float, window_seconds: int) -> int:
    return int(now_epoch // window_seconds)


def seconds_left(now_epoch: float, window_seconds: int) -> int:
    """Whole seconds until the window (and so the budget) starts again; at least 1."""
    end = (window_index(now_epoch, window_seconds) + 1) * window_seconds
    return max(1, math.ceil(end - now_epoch))
