"""Kopf handlers only: each one hands its namespace to `Runtime.reconcile` (or a pod to `inject_sidecar`).

- create/update/resume of any ModelEndpoint, FallbackPolicy or ModelRoute;
- their deletion, seen as the watch's DELETED event: no finalizer, since nothing needs cleaning up that the
  garbage collector does not already remove (and Kopf never calls `on.delete` handlers for an object
  deleted without one, so those would never run);
- events of Secrets that some endpoint references (a rotated key reaches switchboard-credentials);
- startup: Kopf's settings (peering, no scanning, the webhook server) and the `Runtime` with its upkeep
  loop, which reconciles a namespace when one of its sunsets passes, retries what event handlers could
  not finish, and resyncs every namespace now and then; cleanup stops it.
API hiccups become `kopf.TemporaryError`, so Kopf retries change handlers after a delay; event handlers
are never retried by Kopf, so their namespace is handed to the upkeep loop instead. Bad specs never
raise, they become status conditions.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import kopf

from switchboard_proxy.config import GROUP, VERSION

from .apierrors import KubeConflict, KubeUnavailable
from .injection import INJECT_LABEL, InjectionSettings, inject_sidecar
from .objects import PLURALS
from .runtime import Runtime, build_runtime
from .settings import OperatorSettings
from .webhook_tls import MissingTlsSecret

log = logging.getLogger("switchboard.operator")
RETRY_DELAY_SECONDS = 5
STARTUP_RETRY_SECONDS = 2
NEVER_SECONDS = 10.0**9  # Kopf's own certificate-file polling: the runtime reloads in place instead


def reconcile(namespace: str, memo: Any) -> None:
    """Reconcile one namespace (an API hiccup: Kopf retries the handler after a delay)."""
    runtime: Runtime = memo.runtime
    try:
        runtime.reconcile(namespace)
    except KubeUnavailable as exc:
        raise kopf.TemporaryError(f"namespace {namespace}: {exc}", delay=RETRY_DELAY_SECONDS) from None


def reconcile_or_retry_later(namespace: str, memo: Any) -> None:
    """For event handlers, which Kopf does not retry: on an API hiccup the upkeep loop tries again."""
    try:
        reconcile(namespace, memo)
    except kopf.TemporaryError as exc:
        log.warning("%s; will retry", exc)
        memo.runtime.sunsets.remember(namespace, datetime.now(UTC))


def _is_gone(*, type: str, **_: Any) -> bool:
    return type == "DELETED"


def _register(plural: str) -> None:
    @kopf.on.resume(GROUP, VERSION, plural, id=f"resume-{plural}")
    @kopf.on.create(GROUP, VERSION, plural, id=f"create-{plural}")
    @kopf.on.update(GROUP, VERSION, plural, id=f"update-{plural}")
    def on_change(*, namespace: str | None, memo: Any, **_: Any) -> None:
        if namespace:
            reconcile(namespace, memo)

    @kopf.on.event(GROUP, VERSION, plural, id=f"gone-{plural}", when=_is_gone)
    def on_gone(*, namespace: str | None, memo: Any, **_: Any) -> None:
        if namespace:
            reconcile_or_retry_later(namespace, memo)


for _plural in PLURALS.values():
    _register(_plural)


def _is_referenced(*, name: str, namespace: str | None, memo: Any, **_: Any) -> bool:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    return runtime is not None and name in runtime.secrets.get(namespace or "", set())


@kopf.on.event("", "v1", "secrets", when=_is_referenced)
def on_secret(*, namespace: str | None, memo: Any, **_: Any) -> None:
    if namespace:
        reconcile_or_retry_later(namespace, memo)


def _configure(settings: kopf.OperatorSettings, operator: OperatorSettings) -> None:
    # Handler progress in annotations, never in status (the CRDs' status schema is ours), and no Kopf
    # Events: the operator posts its own, meaningful ones.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="switchboard.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="switchboard.dev")
    settings.posting.enabled = False
    settings.watching.server_timeout = 270
    settings.execution.max_workers = 4
    # The kinds are known at start: no namespace listing and no CRD watch (nor the RBAC they need).
    settings.scanning.disabled = True
    settings.peering.lifetime = operator.peering.lifetime_seconds


def _webhook_server(operator: OperatorSettings, runtime: Runtime) -> kopf.WebhookServer:
    serving = runtime.serving
    return kopf.WebhookServer(
        addr="0.0.0.0",
        port=operator.webhook_port,
        host=operator.webhook_host,
        certfile=str(serving.cert_file) if serving else None,
        pkeyfile=str(serving.key_file) if serving else None,
        cafile=operator.webhook_ca or None,
        context=serving.context if serving else None,
        file_check_interval=NEVER_SECONDS,
    )


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    operator: OperatorSettings = memo.settings
    _configure(settings, operator)
    # Both can meet an API server still settling (CRDs created a moment ago, by the same `helm install`,
    # answer 429 or 503 for a few seconds): retried soon, not after Kopf's default minute.
    try:
        runtime = build_runtime(operator)
        memo.runtime = runtime
        if runtime.certificate is not None:  # the first certificate before Kopf's webhook server loads it
            await asyncio.to_thread(runtime.certificate.ensure, datetime.now(UTC))
    except (KubeUnavailable, KubeConflict, MissingTlsSecret) as exc:
        raise kopf.TemporaryError(f"starting: {exc}", delay=STARTUP_RETRY_SECONDS) from None
    if operator.webhook_port:
        settings.admission.server = _webhook_server(operator, runtime)
        if not operator.webhook_configuration:
            settings.admission.managed = "switchboard.dev"  # no chart: Kopf writes the configuration
    await runtime.start(identity=memo.identity, priority=memo.priority)
    runtime.started = True


@kopf.on.cleanup()
async def stop(memo: Any, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.stop()


def register_injection(settings: OperatorSettings) -> None:
    """The mutating webhook for labelled pods (registered only when --webhook-port is given).

    The chart's MutatingWebhookConfiguration chooses its own failurePolicy (values.yaml explains it).
    Without the chart, Kopf writes one: a cluster-wide operator's fails closed, like Istio's injector (no
    labelled Pod starts without its sidecar); a namespaced operator's fails open, since Kopf's
    configuration cannot be limited to namespaces, and an operator that is down must not block Pods in
    namespaces it does not even watch.
    """
    injection = InjectionSettings(
        image=settings.sidecar_image, image_pull_policy=settings.sidecar_image_pull_policy
    )

    @kopf.on.mutate(
        "",
        "v1",
        "pods",
        id="inject-sidecar",
        operations=["CREATE"],
        labels={INJECT_LABEL: "true"},
        ignore_failures=not settings.all_namespaces,
    )
    def inject(*, body: Any, patch: Any, memo: Any, **_: Any) -> None:
        result = "error"
        try:
            result = _inject(body, patch, injection)
        finally:
            memo.runtime.metrics.record_admission(result)


def _inject(body: Any, patch: Any, injection: InjectionSettings) -> str:
    pod = {"metadata": dict(body.get("metadata", {})), "spec": dict(body.get("spec", {}))}
    injected = inject_sidecar(pod, injection)
    if injected is pod:
        return "skipped"
    spec, metadata = injected["spec"], injected["metadata"]
    # Kopf turns this merge-style patch into the admission JSON Patch: lists are replaced whole.
    patch.spec["initContainers"] = spec["initContainers"]
    patch.spec["volumes"] = spec["volumes"]
    patch.spec["containers"] = spec["containers"]
    patch.metadata["annotations"] = metadata["annotations"]
    return "injected"
