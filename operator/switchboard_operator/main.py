"""`switchboard-operator`: flags -> settings -> Kopf, watching one namespace, several, or all of them."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import kopf

from .peering import start_priority
from .settings import FleetSettings, OperatorSettings, PeeringSettings, WebhookTlsSettings

EPILOG = """examples:
  switchboard-operator --all-namespaces
  switchboard-operator --namespace team-a --namespace team-b --liveness-port 8080
  switchboard-operator --all-namespaces --peering switchboard --metrics-port 8081 \\
      --webhook-port 9443 --webhook-host switchboard.switchboard-system.svc \\
      --webhook-configuration switchboard --webhook-tls-secret switchboard-system/switchboard-webhook-tls

The Kubernetes connection comes from the pod's service account, or $KUBECONFIG / ~/.kube/config.
For each namespace it compiles ModelEndpoint, FallbackPolicy and ModelRoute resources into ConfigMap
switchboard-config (config.json) and Secret switchboard-credentials, and reports problems in status.
With --prometheus-url it also reads the sidecars' metrics and writes experiment verdicts, fleet guardrail
trips, explore evidence, migration steps and rollout into status, which compile reads back.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard-operator",
        description="Switchboard operator (Kopf): compiles Switchboard resources into per-namespace "
        "sidecar config.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--namespace", action="append", default=[], metavar="NS", help="watch this namespace (repeatable)"
    )
    scope.add_argument("--all-namespaces", action="store_true", help="watch every namespace")
    parser.add_argument("--liveness-port", type=int, default=8080, help="port of GET /healthz (default 8080)")
    parser.add_argument(
        "--metrics-port", type=int, default=0, help="port of GET /metrics and /readyz (default 0: off)"
    )
    parser.add_argument(
        "--sunset-check-seconds",
        type=float,
        default=10.0,
        help="how often to look for sunsets that passed and retries that are due (default 10)",
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=300.0,
        help="how often every known namespace is reconciled again (default 300)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _add_peering_flags(parser)
    _add_webhook_flags(parser)
    _fleet_arguments(parser)
    return parser


def _add_peering_flags(parser: argparse.ArgumentParser) -> None:
    peering = parser.add_argument_group("replicas (Kopf peering: one of several replicas reconciles)")
    peering.add_argument(
        "--peering",
        default="",
        metavar="NAME",
        help="the KopfPeering (per watched namespace) or ClusterKopfPeering object; default: standalone",
    )
    peering.add_argument(
        "--peering-lifetime-seconds",
        type=int,
        default=PeeringSettings.lifetime_seconds,
        help=f"a replica silent this long is dead (default {PeeringSettings.lifetime_seconds})",
    )
    peering.add_argument(
        "--instance",
        default=os.environ.get("POD_NAME", "") or socket.gethostname(),
        help="this replica's name: its peer id and field manager (default $POD_NAME, else the host name)",
    )


def _add_webhook_flags(parser: argparse.ArgumentParser) -> None:
    webhook = parser.add_argument_group(
        "sidecar injection webhook (pods labelled switchboard.dev/inject=true)"
    )
    webhook.add_argument(
        "--webhook-port", type=int, default=0, help="serve the mutating webhook here (0: off)"
    )
    webhook.add_argument(
        "--webhook-host",
        default="127.0.0.1",
        help="host name the API server uses to reach the webhook (default 127.0.0.1; in a cluster "
        "the Service, SVC.NS.svc)",
    )
    webhook.add_argument(
        "--webhook-configuration",
        default="",
        metavar="NAME",
        help="a MutatingWebhookConfiguration someone else owns (the chart); without it Kopf writes one",
    )
    webhook.add_argument(
        "--webhook-tls-secret",
        default="",
        metavar="NS/NAME",
        help="keep a self-signed CA and serving certificate in this Secret, rotate them, and keep "
        "--webhook-configuration's caBundle current",
    )
    webhook.add_argument("--webhook-cert-dir", default="", help="where that certificate's files go")
    webhook.add_argument("--webhook-cert", default="", help="serving certificate (PEM), reloaded on change")
    webhook.add_argument("--webhook-key", default="", help="its private key (PEM)")
    webhook.add_argument(
        "--webhook-ca", default="", help="CA bundle the API server trusts the certificate with (Kopf's)"
    )
    webhook.add_argument(
        "--webhook-ca-validity-hours", type=float, default=WebhookTlsSettings.ca_validity_hours
    )
    webhook.add_argument(
        "--webhook-cert-validity-hours", type=float, default=WebhookTlsSettings.cert_validity_hours
    )
    webhook.add_argument(
        "--webhook-tls-check-seconds",
        type=float,
        default=WebhookTlsSettings.check_seconds,
        help="how often the certificate is checked for renewal or change (default 60)",
    )
    _add_sidecar_flags(webhook)


def _add_sidecar_flags(webhook: argparse._ArgumentGroup) -> None:
    """What the injected sidecar is: its image and the fleet's shared state."""
    webhook.add_argument(
        "--sidecar-image",
        default=OperatorSettings.sidecar_image,
        help=f"image of the injected proxy (default {OperatorSettings.sidecar_image}: `make image`)",
    )
    webhook.add_argument(
        "--sidecar-image-pull-policy",
        default=OperatorSettings.sidecar_image_pull_policy,
        choices=["Always", "IfNotPresent", "Never"],
        help="its imagePullPolicy (default IfNotPresent; Never for images loaded on the node)",
    )
    webhook.add_argument(
        "--sidecar-state",
        default="",
        metavar="redis://HOST:PORT/DB",
        type=_state_url,
        help="the injected sidecars' --state: the Redis their namespace's fleet shares budgets, rate "
        "buckets and circuit signals through (no password: the URL lands in every pod's spec). "
        "Default: off, every sidecar counts alone",
    )


def _state_url(value: str) -> str:
    if value and (not value.startswith(("redis://", "rediss://")) or "@" in value):
        raise argparse.ArgumentTypeError(
            f"wants redis://HOST:PORT/DB or rediss://... without credentials, got {value.split('@')[-1]!r}"
        )
    return value


def _fleet_arguments(parser: argparse.ArgumentParser) -> None:
    fleet = parser.add_argument_group(
        "quality loop (experiment statistics, fleet guardrails, explore priors, migrations, rollout)"
    )
    fleet.add_argument(
        "--prometheus-url",
        default="",
        metavar="URL",
        help="Prometheus scraping the sidecars (with namespace and pod labels), e.g. "
        "http://prometheus.monitoring:9090; without it none of this group runs",
    )
    fleet.add_argument(
        "--fleet-seconds",
        type=float,
        default=FleetSettings.interval_seconds,
        help=f"how often Prometheus is read and status written (default {FleetSettings.interval_seconds:g})",
    )
    fleet.add_argument(
        "--explore-fold-seconds",
        type=float,
        default=FleetSettings.explore_fold_seconds,
        help="least time between two folds of the fleet's explore evidence into route status, each of "
        f"which reloads every sidecar (default {FleetSettings.explore_fold_seconds:g})",
    )


def settings_from_args(argv: Sequence[str] | None = None) -> OperatorSettings:
    args = build_parser().parse_args(argv)
    return OperatorSettings(
        namespaces=tuple(dict.fromkeys(args.namespace)),
        all_namespaces=args.all_namespaces,
        instance=args.instance,
        liveness_port=args.liveness_port,
        metrics_port=args.metrics_port,
        sunset_check_seconds=args.sunset_check_seconds,
        resync_seconds=args.resync_seconds,
        log_level=args.log_level,
        peering=PeeringSettings(name=args.peering, lifetime_seconds=args.peering_lifetime_seconds),
        webhook_port=args.webhook_port,
        webhook_host=args.webhook_host,
        webhook_configuration=args.webhook_configuration,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        webhook_ca=args.webhook_ca,
        webhook_tls=WebhookTlsSettings(
            secret=args.webhook_tls_secret,
            cert_dir=args.webhook_cert_dir,
            ca_validity_hours=args.webhook_ca_validity_hours,
            cert_validity_hours=args.webhook_cert_validity_hours,
            check_seconds=args.webhook_tls_check_seconds,
        ),
        sidecar_image=args.sidecar_image,
        sidecar_image_pull_policy=args.sidecar_image_pull_policy,
        sidecar_state=args.sidecar_state,
        fleet=FleetSettings(
            prometheus_url=args.prometheus_url,
            interval_seconds=args.fleet_seconds,
            explore_fold_seconds=args.explore_fold_seconds,
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_from_args(argv)
    # Kopf's own handler on the root logger is the only one (a second, e.g. from logging.basicConfig,
    # would print every line twice); its level is ours, not Kopf's INFO-or-DEBUG choice.
    kopf.configure(verbose=settings.log_level == "debug")
    logging.getLogger().setLevel(settings.log_level.upper())
    # One line per probe and admission request would drown what matters (Kopf logs each admission).
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, logging.getLogger().level))
    from . import handlers  # registers the handlers with Kopf's default registry

    if settings.webhook_port:
        handlers.register_injection(settings)
    # The oldest replica leads: a new one (a rollout, a restart after a crash) waits for it to go.
    priority = start_priority(datetime.now(UTC), settings.instance)
    memo = kopf.Memo(settings=settings, identity=settings.instance, priority=priority)
    peering = settings.peering.name
    kopf.run(
        clusterwide=settings.all_namespaces,
        namespaces=list(settings.namespaces),
        liveness_endpoint=f"http://0.0.0.0:{settings.liveness_port}/healthz",
        memo=memo,
        standalone=not peering,
        peering_name=peering or None,
        priority=priority,
        identity=settings.instance,  # type: ignore[arg-type]  # Kopf's Identity is a NewType of str
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
