"""The routing decision: pure functions from (config, request, live endpoint state, now, rng) to a `Plan`.

No aiohttp, no I/O, no clock reads: the sidecar's executor and `switchboard explain` call the same code.
Stages in order: `matching` (which route), `experiments` (which variant), `eligibility` (which endpoints
may serve, and why not), `strategies` (in what order), `planning` (the attempts, with retries expanded).
"""

from .planning import plan
from .plans import Attempt, Plan, Refusal
from .request import RouteRequest
from .state import EndpointState, RouterState

__all__ = ["Attempt", "EndpointState", "Plan", "Refusal", "RouteRequest", "RouterState", "plan"]
