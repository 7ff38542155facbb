"""`switchboard-operator`: flags -> settings -> Kopf, watching one namespace, several, or all of them."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import kopf

from .settings import OperatorSettings

EPILOG = """examples:
  switchboard-operator --all-namespaces
  switchboard-operator --namespace team-a --namespace team-b --liveness-port 8080

The Kubernetes connection comes from the pod's service account, or $KUBECONFIG / ~/.kube/config.
For each namespace it compiles ModelEndpoint, FallbackPolicy and ModelRoute resources into ConfigMap
switchboard-config (config.json) and Secret switchboard-credentials, and reports problems in status.
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
        "--sunset-check-seconds",
        type=float,
        default=10.0,
        help="how often to look for sunsets that passed (default 10)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    webhook = parser.add_argument_group(
        "sidecar injection webhook (pods labelled switchboard.dev/inject=true)"
    )
    webhook.add_argument(
        "--webhook-port", type=int, default=0, help="serve the mutating webhook here (0: off)"
    )
    webhook.add_argument(
        "--webhook-host",
        default="127.0.0.1",
        help="host name the API server uses to reach the webhook (default 127.0.0.1)",
    )
    webhook.add_argument("--webhook-cert", default="", help="serving certificate (PEM) for that host")
    webhook.add_argument("--webhook-key", default="", help="its private key (PEM)")
    webhook.add_argument(
        "--webhook-ca", default="", help="CA bundle the API server trusts the certificate with"
    )
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
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> OperatorSettings:
    args = build_parser().parse_args(argv)
    return OperatorSettings(
        namespaces=tuple(args.namespace),
        all_namespaces=args.all_namespaces,
        liveness_port=args.liveness_port,
        sunset_check_seconds=args.sunset_check_seconds,
        log_level=args.log_level,
        webhook_port=args.webhook_port,
        webhook_host=args.webhook_host,
        webhook_cert=args.webhook_cert,
        webhook_key=args.webhook_key,
        webhook_ca=args.webhook_ca,
        sidecar_image=args.sidecar_image,
        sidecar_image_pull_policy=args.sidecar_image_pull_policy,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_from_args(argv)
    # Kopf's own handler on the root logger is the only one (a second, e.g. from logging.basicConfig,
    # would print every line twice); its level is ours, not Kopf's INFO-or-DEBUG choice.
    kopf.configure(verbose=settings.log_level == "debug")
    logging.getLogger().setLevel(settings.log_level.upper())
    from . import handlers  # registers the handlers with Kopf's default registry

    if settings.webhook_port:
        handlers.register_injection(settings)
    memo = kopf.Memo(sunset_check_seconds=settings.sunset_check_seconds, settings=settings)
    kopf.run(
        clusterwide=settings.all_namespaces,
        namespaces=list(settings.namespaces),
        liveness_endpoint=f"http://0.0.0.0:{settings.liveness_port}/healthz",
        memo=memo,
        standalone=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
