"""Session affinity: the same session key goes to the same endpoint of the pool (weighted rendezvous hashing).

Agents resend a long shared prefix on every turn, and a provider's prompt cache only helps when the
turns of a conversation reach the same endpoint. For a route with `affinity: {by: session}` every
endpoint of the variant's pool gets a score for the session key, `-weight / ln(u)` with `u` a uniform
hash of (key, endpoint) in (0, 1): the highest score is the session's home. This is weighted rendezvous
(highest random weight) hashing:
- an endpoint is the home of a share of sessions equal to its share of the pool's weight;
- the same key always finds the same home, in every sidecar process (no state, no coordination);
- when an endpoint leaves the pool, only its own sessions move, each to its next-highest score, and
  when it comes back exactly those sessions return.
The planner orders the *eligible* pool by score, so a session whose home is ineligible (open circuit,
limits) moves to its runner-up: that is a `moved`, counted by the sidecar; otherwise a `hit`. Failover
after the pool follows the same order, then the chain. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from .plans import AffinityResult
from .strategies import Candidate

_SCALE = float(2**64)


def score(key: str, endpoint: str, weight: float) -> float:
    """The endpoint's rendezvous score for the session key (0 for a zero weight)."""
    if weight <= 0:
        return 0.0
    digest = hashlib.blake2b(f"{key}\x00{endpoint}".encode(), digest_size=8).digest()
    uniform = (int.from_bytes(digest, "big") + 0.5) / _SCALE  # in (0, 1), never 0 or 1
    return -weight / math.log(uniform)


def home_of(key: str, pool: Sequence[Candidate]) -> str:
    """The endpoint of `pool` the session belongs to while it is eligible ('' for an empty pool)."""
    return max(pool, key=lambda c: score(key, c.name, c.weight)).name if pool else ""


def affinity_order(
    key: str, pool: Sequence[Candidate], eligible: Sequence[Candidate]
) -> tuple[list[Candidate], AffinityResult]:
    """The eligible candidates (a part of `pool`) by the session's scores, and whether its home is the
    first of them."""
    scores = {c.name: score(key, c.name, c.weight) for c in pool}
    ordered = sorted(eligible, key=lambda c: scores[c.name], reverse=True)
    if not ordered:
        return ordered, ""
    return ordered, "hit" if ordered[0].name == max(scores, key=scores.__getitem__) else "moved"
