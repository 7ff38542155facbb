"""`ProxySettings`: everything the sidecar is told at start, from flags and environment (no logic)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_ADMIN_PORT = 8788  # what injection uses in pods; off (0) by default in local mode
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # room for a few base64 images, not for a runaway client

EPILOG = """examples:
  switchboard-proxy --resources examples/            local mode: compile resource YAML in-process
  switchboard-proxy --config /etc/switchboard/config.json --credentials-dir /etc/switchboard/credentials
  switchboard-proxy --config config.json --watch-configmap team-a/switchboard-config
  switchboard-proxy --config config.json --admin-host 0.0.0.0 --admin-port 8788   as injected into pods
  switchboard-proxy --resources examples/ --state redis://127.0.0.1:6379/0   budgets shared by a fleet

environment: SWITCHBOARD_CONFIG (= --config), SWITCHBOARD_PORT (= --port).
signals: SIGHUP reloads the config now; SIGTERM stops accepting, drains in-flight requests and streams
(up to --drain-seconds), then exits.
"""


@dataclass(frozen=True)
class ProxySettings:
    """Settings of one sidecar process."""

    config_path: Path | None = None
    resource_paths: tuple[Path, ...] = ()
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    admin_host: str = DEFAULT_HOST
    admin_port: int = 0  # 0: no admin listener
    credentials_dir: Path | None = None
    watch_configmap: str = ""  # NAMESPACE/NAME, "" = off
    kube_api: str = ""  # API server URL; default: in-cluster from KUBERNETES_SERVICE_HOST
    kube_token_file: Path | None = None
    kube_ca_file: Path | None = None
    poll_seconds: float = 1.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    drain_seconds: float = 30.0
    access_log: bool = True
    log_level: str = "info"
    state_url: str = ""  # redis://HOST:PORT/DB shared by the namespace's sidecars; "" = per sidecar
    state_timeout_ms: int = 500

    @property
    def source(self) -> str:
        """Human-readable name of where config comes from."""
        if self.config_path is not None:
            return str(self.config_path)
        return "resources:" + ",".join(str(p) for p in self.resource_paths)


def _add_listener_arguments(parser: argparse.ArgumentParser) -> None:
    """--host/--port (the model API) and --admin-host/--admin-port (probes and metrics)."""
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: loopback only)"
    )
    parser.add_argument("--port", type=int, help=f"port (default $SWITCHBOARD_PORT or {DEFAULT_PORT})")
    parser.add_argument(
        "--admin-host",
        default=DEFAULT_HOST,
        help=f"address of the admin listener (/healthz, /readyz, /metrics only; default {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=0,
        help=f"port of the admin listener (default 0: off; pods use {DEFAULT_ADMIN_PORT})",
    )


def _add_state_arguments(parser: argparse.ArgumentParser) -> None:
    """--state (the fleet's shared Redis) and its timeout."""
    parser.add_argument(
        "--state",
        default="",
        metavar="redis://HOST:PORT/DB",
        help="share budgets, rate buckets and circuit-open signals with every sidecar of the namespace "
        "through this Redis (rediss:// for TLS; a password as redis://:PASSWORD@HOST). While it is "
        "unreachable each sidecar enforces its share of the limits (limit / live sidecars). "
        "Default: off, every sidecar counts alone",
    )
    parser.add_argument(
        "--state-timeout-ms",
        type=int,
        default=500,
        help="a --state call slower than this counts as Redis being away (default 500)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard-proxy",
        description="Switchboard sidecar: routes OpenAI- and Anthropic-compatible requests on localhost "
        "to the right model, fails over, streams, and accounts cost and quality.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", type=Path, help="compiled config JSON (the ConfigMap's config.json); hot-reloaded"
    )
    source.add_argument(
        "--resources",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="resource YAML files or directories, compiled in-process (local mode); hot-reloaded",
    )
    _add_listener_arguments(parser)
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        help="directory of key files, one per endpoint (Secret switchboard-credentials)",
    )
    parser.add_argument(
        "--watch-configmap",
        default="",
        metavar="NAMESPACE/NAME",
        help="also watch this ConfigMap through the Kubernetes API for changes in seconds",
    )
    parser.add_argument(
        "--kube-api", default="", help="API server URL for --watch-configmap (default: in-cluster)"
    )
    parser.add_argument(
        "--kube-token-file", type=Path, help="bearer token file (default: the pod's service account)"
    )
    parser.add_argument("--kube-ca-file", type=Path, help="CA bundle of the API server (default: the pod's)")
    parser.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to check files for changes (default 1)"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest accepted request body; larger gets 413 (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=30.0,
        help="on SIGTERM, how long in-flight requests may take to finish (default 30)",
    )
    _add_state_arguments(parser)
    parser.add_argument("--no-access-log", action="store_true", help="do not write a JSON line per request")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> ProxySettings:
    """Parse flags (and SWITCHBOARD_CONFIG / SWITCHBOARD_PORT) into settings; exits 2 on usage errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = args.config or (
        Path(os.environ["SWITCHBOARD_CONFIG"]) if os.environ.get("SWITCHBOARD_CONFIG") else None
    )
    if config is None and not args.resources:
        parser.error("one of --config, --resources or $SWITCHBOARD_CONFIG is required")
    port = args.port if args.port is not None else int(os.environ.get("SWITCHBOARD_PORT", DEFAULT_PORT))
    if args.admin_port and args.admin_port == port:
        parser.error("--admin-port must differ from --port")
    if args.watch_configmap and args.watch_configmap.count("/") != 1:
        parser.error("--watch-configmap wants NAMESPACE/NAME")
    if args.state and not args.state.startswith(("redis://", "rediss://", "unix://")):
        parser.error("--state wants a redis:// (or rediss://, unix://) URL, e.g. redis://127.0.0.1:6379/0")
    if args.state_timeout_ms <= 0:
        parser.error("--state-timeout-ms must be positive")
    return ProxySettings(
        config_path=None if args.resources else config,
        resource_paths=tuple(args.resources or ()),
        host=args.host,
        port=port,
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        credentials_dir=args.credentials_dir,
        watch_configmap=args.watch_configmap,
        kube_api=args.kube_api,
        kube_token_file=args.kube_token_file,
        kube_ca_file=args.kube_ca_file,
        poll_seconds=args.poll_seconds,
        max_body_bytes=args.max_body_bytes,
        drain_seconds=args.drain_seconds,
        access_log=not args.no_access_log,
        log_level=args.log_level,
        state_url=args.state,
        state_timeout_ms=args.state_timeout_ms,
    )
