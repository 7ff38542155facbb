"""Kopf handlers only: each one hands its namespace to `Reconciler.reconcile_namespace`.

- create/update/resume of any ModelEndpoint, FallbackPolicy or ModelRoute;
- their deletion, seen as the watch's DELETED event: no finalizer, since nothing needs cleaning up that the
  garbage collector does not already remove (and Kopf never calls `on.delete` handlers for an object
  deleted without one, so those would never run);
- events of Secrets that some endpoint references (a rotated key reaches switchboard-credentials);
- a background task that reconciles a namespace when one of its sunsets passes (Kopf timers would put a
  finalizer on every endpoint; one loop does not), and retries what event handlers could not finish.
API hiccups become `kopf.TemporaryError`, so Kopf retries change handlers after a delay; event handlers
are never retried by Kopf, so their namespace is handed to the background task instead. Bad specs never
raise, they become status conditions.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import kopf

from switchboard_proxy.config import GROUP, VERSION

from .injection import INJECT_LABEL, InjectionSettings, inject_sidecar
from .kube import Kube, KubeUnavailable, load_client
from .objects import PLURALS
from .reconciling import Reconciler
from .scheduling import SunsetSchedule
from .settings import OperatorSettings

log = logging.getLogger("switchboard.operator")
RETRY_DELAY_SECONDS = 5


def reconcile(namespace: str, memo: Any) -> None:
    """Reconcile one namespace; remember its referenced Secrets and next sunset for the other handlers."""
    reconciler: Reconciler = memo.reconciler
    try:
        desired = reconciler.reconcile_namespace(namespace, now=datetime.now(UTC))
    except KubeUnavailable as exc:
        raise kopf.TemporaryError(f"namespace {namespace}: {exc}", delay=RETRY_DELAY_SECONDS) from None
    memo.secrets[namespace] = desired.referenced_secrets
    memo.sunsets.remember(namespace, desired.next_sunset)


def reconcile_or_retry_later(namespace: str, memo: Any) -> None:
    """For event handlers, which Kopf does not retry: on an API hiccup the sunset loop tries again."""
    try:
        reconcile(namespace, memo)
    except kopf.TemporaryError as exc:
        log.warning("%s; will retry", exc)
        memo.sunsets.remember(namespace, datetime.now(UTC))


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
    return name in memo.secrets.get(namespace, set())


@kopf.on.event("", "v1", "secrets", when=_is_referenced)
def on_secret(*, namespace: str | None, memo: Any, **_: Any) -> None:
    if namespace:
        reconcile_or_retry_later(namespace, memo)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    # Handler progress in annotations, never in status (the CRDs' status schema is ours), and no Kopf
    # Events: the operator posts its own, meaningful ones.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="switchboard.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="switchboard.dev")
    settings.posting.enabled = False
    settings.watching.server_timeout = 270
    settings.execution.max_workers = 4
    operator: OperatorSettings | None = getattr(memo, "settings", None)
    if operator is not None and operator.webhook_port:
        settings.admission.server = kopf.WebhookServer(
            addr="0.0.0.0",
            port=operator.webhook_port,
            host=operator.webhook_host,
            certfile=operator.webhook_cert or None,
            pkeyfile=operator.webhook_key or None,
            cafile=operator.webhook_ca or None,
        )
        settings.admission.managed = "switchboard.dev"
    memo.reconciler = Reconciler(Kube(load_client()))
    memo.secrets = {}
    memo.sunsets = SunsetSchedule()
    memo.sunset_task = asyncio.create_task(_sunset_loop(memo))


@kopf.on.cleanup()
async def stop(memo: Any, **_: Any) -> None:
    task = getattr(memo, "sunset_task", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _sunset_loop(memo: Any) -> None:
    """Recompile a namespace when one of its endpoints reaches its sunset (or an event handler's
    reconcile failed and is due again)."""
    while True:
        await asyncio.sleep(memo.sunset_check_seconds)
        for namespace in memo.sunsets.due(datetime.now(UTC)):
            log.info("namespace %s: recompiling (a sunset has passed, or a retry is due)", namespace)
            try:
                await asyncio.to_thread(reconcile, namespace, memo)
            except kopf.TemporaryError as exc:
                log.warning("%s; will retry", exc)
                memo.sunsets.remember(namespace, datetime.now(UTC))


def register_injection(settings: OperatorSettings) -> None:
    """The mutating webhook for labelled pods (registered only when --webhook-port is given).

    A cluster-wide operator's webhook fails closed, like Istio's injector: no labelled Pod starts without
    its sidecar. A namespaced operator's webhook fails open: Kopf's webhook configuration cannot be
    limited to namespaces, and an operator that is down must not block Pods in namespaces it does not
    even watch.
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
    def inject(*, body: Any, patch: Any, **_: Any) -> None:
        pod = {"metadata": dict(body.get("metadata", {})), "spec": dict(body.get("spec", {}))}
        injected = inject_sidecar(pod, injection)
        if injected is pod:
            return
        spec, metadata = injected["spec"], injected["metadata"]
        # Kopf turns this merge-style patch into the admission JSON Patch: lists are replaced whole.
        patch.spec["initContainers"] = spec["initContainers"]
        patch.spec["volumes"] = spec["volumes"]
        patch.spec["containers"] = spec["containers"]
        patch.metadata["annotations"] = metadata["annotations"]
