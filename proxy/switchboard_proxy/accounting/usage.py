"""Token usage and what it costs: the upstream's counts times the endpoint's pricing (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import EndpointConfig


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the upstream."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


def cost_usd(endpoint: EndpointConfig, usage: Usage) -> float:
    """USD for `usage` on `endpoint`: cached prompt tokens at the cached price, the rest at full price."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return (
        (usage.prompt_tokens - cached) * endpoint.input_per_mtok_usd
        + cached * endpoint.cached_input_per_mtok_usd
        + usage.completion_tokens * endpoint.output_per_mtok_usd
    ) / 1_000_000
