"""Token usage and what it costs: the upstream's counts times the endpoint's pricing (pure)."""

from __future__ import annotations

from typing import NamedTuple

from ..config import EndpointConfig


class Usage(NamedTuple):
    """Token counts reported by the upstream (one per answer: a NamedTuple is the cheapest to build)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


def cost_usd(endpoint: EndpointConfig, usage: Usage) -> float:
    """USD for `usage` on `endpoint`: cached prompt tokens at the cached price, the rest at full price."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return (
        (usage.prompt_tokens - cached) * endpoint.input_per_mtok_usd
        + cached * endpoint.cached_input_per_mtok_usd
        + usage.completion_tokens * endpoint.output_per_mtok_usd
    ) / 1_000_000
