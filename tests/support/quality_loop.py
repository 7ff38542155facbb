"""The namespace both tiers of the quality loop judge (tests/integration/operator/test_fleet_loop.py on
loopback, tests/cluster/test_cluster_quality_loop.py on the node): two experiment routes over four sim
models, `guarded` (a fleet guardrail on the error rate) and `promoted` (error rate as the primary metric,
autoPromote), with no retries, so a failure of a candidate's endpoint is a failure its callers see.

Each tier builds its objects its own way (metadata as a FileKube or as kubectl wants it): `resource`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MODELS = ("ctl-a", "cand-a", "ctl-b", "cand-b")
Resource = Callable[[str, str, dict[str, Any]], dict[str, Any]]  # (kind, name, spec) -> object


def experiment_route(
    resource: Resource, name: str, control: str, candidate: str, **experiment: Any
) -> dict[str, Any]:
    """A route whose control serves `control`; its candidate, half of the requests, `candidate`."""
    variants = [
        {"name": "control", "weight": 50},
        {"name": "candidate", "weight": 50, "targets": [{"endpoint": candidate}]},
    ]
    return resource(
        "ModelRoute",
        name,
        {
            "targets": [{"endpoint": control}],
            "fallbackPolicy": "once",
            "experiment": {"name": f"{name}-exp", "stickyBy": "request", "variants": variants, **experiment},
        },
    )


def experiment_objects(resource: Resource, sim_url: str) -> list[dict[str, Any]]:
    """The endpoints (one per model of `MODELS` at `sim_url`), the policy and the two routes."""
    return [
        *(resource("ModelEndpoint", m, {"url": f"{sim_url}/v1", "model": m}) for m in MODELS),
        resource("FallbackPolicy", "once", {"retries": {"attempts": 0}}),
        experiment_route(
            resource, "guarded", "ctl-a", "cand-a", guardrails={"maxErrorRate": 0.05, "minRequests": 60}
        ),
        experiment_route(
            resource,
            "promoted",
            "ctl-b",
            "cand-b",
            primaryMetric="error-rate",
            autoPromote=True,
            guardrails={"maxErrorRate": 0.5, "minRequests": 100},
        ),
    ]
