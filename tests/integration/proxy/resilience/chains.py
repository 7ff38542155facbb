"""Resource documents for the resilience tests: a route whose pool and fallback chain point at the sim.

`chain_documents(...)` writes the usual shape of these tests in one call: endpoints named after sim models,
one FallbackPolicy `p` with the given chain, and one ModelRoute `r` using it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from support.stack import endpoint, policy, route

ROUTE = "r"
HELLO = [{"role": "user", "content": "Say hello."}]


def chain_documents(
    sim_url: str,
    pool: Sequence[str],
    chain: Sequence[str] = (),
    *,
    policy_spec: Mapping[str, Any] | None = None,
    route_spec: Mapping[str, Any] | None = None,
    endpoint_specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Endpoints for every name in `pool` + `chain`, policy `p` (with `chain`), route `r` (pool, policy p)."""
    specs = endpoint_specs or {}
    names = list(dict.fromkeys([*pool, *chain, *specs]))
    documents = [endpoint(name, sim_url, **specs.get(name, {})) for name in names]
    documents.append(policy("p", chain=list(chain), **(policy_spec or {})))
    documents.append(route(ROUTE, list(pool), fallbackPolicy="p", **(route_spec or {})))
    return documents


def sim_requests(stats: Mapping[str, Any], model: str) -> int:
    """Requests the sim received for `model` (0 when it never saw one)."""
    return int(stats.get(model, {}).get("requests", 0))
