"""`OperatorSettings`: what switchboard-operator is told at start (no logic), grouped by concern."""

from __future__ import annotations

from dataclasses import dataclass, field

from .injection import DEFAULT_IMAGE


@dataclass(frozen=True)
class PeeringSettings:
    """Kopf peering: several replicas, one of which reconciles (the others serve the webhook only)."""

    name: str = ""  # the KopfPeering / ClusterKopfPeering object; empty: standalone (one replica)
    lifetime_seconds: int = 15  # a replica silent this long is dead (handover after a hard kill)


@dataclass(frozen=True)
class WebhookTlsSettings:
    """Where the webhook's serving certificate comes from, and how long what the operator makes lives.

    - `secret` set: the operator keeps a self-signed CA and a serving certificate in that Secret
      (namespace/name), rotates both before they expire and keeps `configuration`'s caBundle current;
    - `secret` empty: the certificate is read from the `cert`/`key` files (cert-manager, or files a test
      made) and reloaded when they change.
    """

    secret: str = ""
    cert_dir: str = ""  # where the PEM files are written in `secret` mode (empty: a temporary directory)
    ca_validity_hours: float = 24 * 3650
    cert_validity_hours: float = 24 * 365
    check_seconds: float = 60.0


@dataclass(frozen=True)
class FleetSettings:
    """The fleet loop (`fleet`): off unless Prometheus is named."""

    prometheus_url: str = ""  # empty: no experiment statistics, guardrails, explore folding or rollout
    interval_seconds: float = 15.0
    explore_fold_seconds: float = 60.0  # least time between two folds of explore evidence into status


@dataclass(frozen=True)
class OperatorSettings:
    """Scope and endpoints of one operator process."""

    namespaces: tuple[str, ...] = ()  # empty with all_namespaces=True: the whole cluster
    all_namespaces: bool = False
    instance: str = ""  # this replica's name (the pod name): Kopf's peer id and our field manager
    liveness_port: int = 8080
    metrics_port: int = 0  # 0: no /metrics and /readyz listener
    sunset_check_seconds: float = 10.0
    resync_seconds: float = 300.0  # every known namespace is reconciled again this often
    log_level: str = "info"
    peering: PeeringSettings = field(default_factory=PeeringSettings)
    webhook_port: int = 0  # 0: no sidecar-injection webhook
    webhook_host: str = "127.0.0.1"  # how the API server reaches the webhook (a Service name in a cluster)
    webhook_configuration: str = ""  # a MutatingWebhookConfiguration the chart owns (else Kopf makes one)
    webhook_cert: str = ""  # PEM files; a cluster gets them from cert-manager or the chart
    webhook_key: str = ""
    webhook_ca: str = ""
    webhook_tls: WebhookTlsSettings = field(default_factory=WebhookTlsSettings)
    sidecar_image: str = DEFAULT_IMAGE  # what `make image` builds; a cluster names its registry's copy
    sidecar_image_pull_policy: str = "IfNotPresent"
    sidecar_state: str = ""  # the injected sidecars' --state (a redis:// URL shared by a namespace's fleet)
    fleet: FleetSettings = field(default_factory=FleetSettings)
