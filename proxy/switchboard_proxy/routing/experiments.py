"""Variant assignment: deterministic, sticky and identical in every sidecar process.

The key (user, or request id) is hashed together with the route and experiment names, so a user keeps
their variant across requests and sidecars, and two experiments assign independently. Python's `hash()`
is salted per process, so sha256 it is. A variant stopped by its guardrails hands its keys to the first
variant still running (the control, normally).
"""

from __future__ import annotations

import hashlib

from switchboard_proxy.config import RouteConfig, VariantConfig

BUCKETS = 10_000


def bucket_of(route: str, experiment: str, key: str) -> int:
    """A stable bucket in [0, BUCKETS) for this key in this experiment."""
    digest = hashlib.sha256(f"{route}\x00{experiment}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign_variant(route: RouteConfig, key: str, *, stopped: frozenset[str] = frozenset()) -> VariantConfig:
    """The variant `key` belongs to; routes without an experiment have a single variant."""
    if route.experiment is None or len(route.variants) == 1:
        return route.variants[0]
    bucket = bucket_of(route.name, route.experiment.name, key)
    chosen = route.variants[-1]
    cumulative = 0
    for variant in route.variants:
        cumulative += variant.weight * BUCKETS // 100
        if bucket < cumulative:
            chosen = variant
            break
    if chosen.name in stopped:
        return next((v for v in route.variants if v.name not in stopped), route.variants[0])
    return chosen
