"""`Candidate`: an eligible endpoint of a pool with its weight, and what a request would cost on it.

Shared by the strategies and by `exploring` (which normalises cost by the route's most expensive target).
"""

from __future__ import annotations

from typing import NamedTuple

from switchboard_proxy.config import EndpointConfig

from .request import RouteRequest


class Candidate(NamedTuple):
    """An eligible endpoint of the pool with its configured weight."""

    endpoint: EndpointConfig
    weight: float

    @property
    def name(self) -> str:
        return self.endpoint.name


def estimated_cost_usd(endpoint: EndpointConfig, request: RouteRequest) -> float:
    """Expected price of this request on this endpoint (output estimated at the requested cap, or 256)."""
    output = request.max_tokens or 256
    return (request.prompt_tokens * endpoint.input_per_mtok_usd + output * endpoint.output_per_mtok_usd) / 1e6
