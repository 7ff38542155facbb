"""`status.rollout` from `switchboard_config_info` (pure): which sidecars serve the current config.

Every sidecar exports the version it serves; Prometheus adds the pod. A pod on another version lags:
its ConfigMap watch may be denied, or its kubelet slow to swap the mounted file.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchboard_proxy.config.fleet import RolloutStatus

MAX_LAGGING_LISTED = 20  # status stays small in a large fleet; `current`/`total` still count everyone


def rollout(version: str, pods: Mapping[str, str]) -> RolloutStatus:
    """How many of `pods` (pod -> version served) serve `version`, and which do not."""
    lagging = sorted(pod for pod, served in pods.items() if served != version)
    return RolloutStatus(
        version=version,
        current=sum(1 for served in pods.values() if served == version),
        total=len(pods),
        lagging=lagging[:MAX_LAGGING_LISTED],
    )
