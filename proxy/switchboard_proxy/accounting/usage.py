"""Cost of a request from the upstream's token usage and the endpoint's pricing (pure)."""

from __future__ import annotations

from ..config import EndpointConfig
from ..execution.upstreams import Usage


def cost_usd(endpoint: EndpointConfig, usage: Usage) -> float:
    """USD for `usage` on `endpoint`: cached prompt tokens at the cached price, the rest at full price."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return (
        (usage.prompt_tokens - cached) * endpoint.input_per_mtok_usd
        + cached * endpoint.cached_input_per_mtok_usd
        + usage.completion_tokens * endpoint.output_per_mtok_usd
    ) / 1_000_000
