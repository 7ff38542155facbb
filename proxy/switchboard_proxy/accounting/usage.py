"""Token usage and what it costs: the upstream's counts times the endpoint's pricing (pure)."""

from __future__ import annotations

from typing import NamedTuple

from ..config import EndpointConfig


class Usage(NamedTuple):
    """Token counts reported by the upstream (one per answer: a NamedTuple is the cheapest to build)."""

    prompt_tokens: int = 0  # every prompt token, cached or not
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic's cache_creation_input_tokens)


def cost_usd(endpoint: EndpointConfig, usage: Usage) -> float:
    """USD for `usage` on `endpoint`: cached prompt tokens at the cached price, tokens written to the
    cache at the cache-write price, the rest of the prompt at full price."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    return (
        (usage.prompt_tokens - cached - written) * endpoint.input_per_mtok_usd
        + cached * endpoint.cached_input_per_mtok_usd
        + written * endpoint.cache_write_per_mtok_usd
        + usage.completion_tokens * endpoint.output_per_mtok_usd
    ) / 1_000_000
