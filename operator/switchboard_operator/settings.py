"""`OperatorSettings`: what switchboard-operator is told at start (no logic)."""

from __future__ import annotations

from dataclasses import dataclass

from .injection import DEFAULT_IMAGE


@dataclass(frozen=True)
class OperatorSettings:
    """Scope and endpoints of one operator process."""

    namespaces: tuple[str, ...] = ()  # empty with all_namespaces=True: the whole cluster
    all_namespaces: bool = False
    liveness_port: int = 8080
    sunset_check_seconds: float = 10.0
    log_level: str = "info"
    webhook_port: int = 0  # 0: no sidecar-injection webhook
    webhook_host: str = "127.0.0.1"  # how the API server reaches the webhook (a Service name in a cluster)
    webhook_cert: str = ""  # PEM files; a cluster gets them from cert-manager or the chart
    webhook_key: str = ""
    webhook_ca: str = ""
    sidecar_image: str = DEFAULT_IMAGE  # what `make image` builds; a cluster names its registry's copy
    sidecar_image_pull_policy: str = "IfNotPresent"
