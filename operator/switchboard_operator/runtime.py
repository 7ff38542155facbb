"""`Runtime`: what one operator process holds while it runs, built from `OperatorSettings` when Kopf starts.

It sits between the Kopf handlers (which only delegate to it) and the parts that do the work:
- the `Reconciler` over the one `Kube` of the process (its field manager names this replica);
- the operator's metrics and their listener (`monitoring`);
- the sunset/retry schedule and the referenced Secrets of each namespace, which the handlers fill;
- the `Upkeep` loops, gated by Kopf peering so that only the leading replica writes;
- the webhook's serving certificate (`webhook_tls`), when the webhook is on.
Nothing here imports Kopf; `reconcile` raises the API's own errors and counts every outcome.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from switchboard_proxy.telemetry.prometheus import Prometheus

from .certificates import RotationPolicy, service_hosts
from .exploring import FoldPace
from .fleet import FleetLoop
from .kube import FIELD_MANAGER, Kube, load_client
from .metrics import OperatorMetrics
from .monitoring import is_listening, start_listener
from .reconciling import Desired, Reconciler
from .scheduling import SunsetSchedule
from .settings import OperatorSettings
from .upkeep import PeeringGate, Upkeep
from .webhook_tls import FileTls, SecretTls, ServingTls

log = logging.getLogger("switchboard.operator")


@dataclass
class Runtime:
    """The live parts of one operator process (see the module docstring)."""

    settings: OperatorSettings
    kube: Kube
    reconciler: Reconciler
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    sunsets: SunsetSchedule = field(default_factory=SunsetSchedule)
    secrets: dict[str, set[str]] = field(default_factory=dict)  # namespace -> referenced Secret names
    serving: ServingTls | None = None
    certificate: SecretTls | FileTls | None = None
    upkeep: Upkeep | None = None
    fleet: FleetLoop | None = None
    listener: web.AppRunner | None = None
    started: bool = False

    def reconcile(self, namespace: str) -> Desired:
        """Reconcile one namespace and count it; remember its Secrets and next sunset."""
        succeeded = False
        try:
            desired = self.reconciler.reconcile_namespace(namespace, now=datetime.now(UTC))
            succeeded = True
        finally:
            if not succeeded:
                self.metrics.record_failure()
        self.metrics.record_reconcile(
            namespace,
            problems=len(desired.problems),
            budgets=desired.budgets,
            at=datetime.now(UTC).timestamp(),
        )
        self.secrets[namespace] = desired.referenced_secrets
        self.sunsets.remember(namespace, desired.next_sunset)
        return desired

    def try_reconcile(self, namespace: str) -> bool:
        """For the upkeep loop: False instead of an exception (the loop tries again next round)."""
        log.info("namespace %s: recompiling (a sunset has passed, a retry or a resync is due)", namespace)
        try:
            self.reconcile(namespace)
        except Exception as exc:  # logged and retried: the loop must outlive any one namespace
            log.warning("namespace %s: %s: %s; will retry", namespace, type(exc).__name__, exc)
            return False
        return True

    async def readiness(self) -> str:
        """ "" when ready (see `monitoring`), else why not."""
        if not self.started:
            return "starting"
        if self.serving is not None:
            if not self.serving.is_loaded:
                return "no webhook certificate loaded"
            if not await is_listening("127.0.0.1", self.settings.webhook_port):
                return "webhook port not listening"
        return ""

    async def start(self, *, identity: str, priority: int) -> None:
        settings = self.settings
        if settings.metrics_port:
            self.listener = await start_listener(settings.metrics_port, self.metrics, self.readiness)
        gate = PeeringGate(
            self.kube.read_peering,
            name=settings.peering.name,
            scopes=[None] if settings.all_namespaces else list(settings.namespaces),
            identity=identity,
            priority=priority,
        )
        self.upkeep = Upkeep(
            self.try_reconcile,
            lambda: list(self.secrets),
            self.sunsets,
            gate,
            self.metrics,
            interval=settings.sunset_check_seconds,
            resync_seconds=settings.resync_seconds,
        )
        self.upkeep.start(self.certificate, settings.webhook_tls.check_seconds)
        if settings.fleet.prometheus_url:
            self.fleet = FleetLoop(
                self.kube,
                Prometheus(settings.fleet.prometheus_url),
                self.try_reconcile,
                pace=FoldPace(min_interval_seconds=settings.fleet.explore_fold_seconds),
                interval=settings.fleet.interval_seconds,
            )
            self.fleet.start(lambda: list(self.secrets), gate.is_leading)

    async def stop(self) -> None:
        if self.fleet is not None:
            await self.fleet.stop()
        if self.upkeep is not None:
            await self.upkeep.stop()
        if self.listener is not None:
            await self.listener.cleanup()


def field_manager(instance: str) -> str:
    """Each replica writes as its own field manager, so managedFields tell the replicas apart."""
    return f"{FIELD_MANAGER}/{instance}" if instance else FIELD_MANAGER


def _webhook_certificate(
    settings: OperatorSettings, kube: Kube
) -> tuple[ServingTls, SecretTls | FileTls] | None:
    tls = settings.webhook_tls
    if tls.secret:
        directory = Path(tls.cert_dir or tempfile.mkdtemp(prefix="switchboard-webhook-"))
        serving = ServingTls(directory / "tls.crt", directory / "tls.key")
        namespace, _, name = tls.secret.partition("/")
        policy = RotationPolicy(
            ca_validity=timedelta(hours=tls.ca_validity_hours),
            cert_validity=timedelta(hours=tls.cert_validity_hours),
        )
        hosts = service_hosts(settings.webhook_host)
        configuration = settings.webhook_configuration
        return serving, SecretTls(kube, (namespace, name), configuration, hosts, policy, serving)
    if settings.webhook_cert and settings.webhook_key:
        serving = ServingTls(Path(settings.webhook_cert), Path(settings.webhook_key))
        return serving, FileTls(serving)
    return None


def build_runtime(settings: OperatorSettings) -> Runtime:
    """Everything but the background tasks (`Runtime.start`) and the first certificate."""
    kube = Kube(load_client(), field_manager=field_manager(settings.instance))
    runtime = Runtime(settings, kube, Reconciler(kube))
    if settings.webhook_port:
        found = _webhook_certificate(settings, kube)
        if found is not None:
            runtime.serving, runtime.certificate = found
    return runtime
