"""The only module that talks to the Kubernetes API: list, read, server-side apply, patch status, Events.

Built on the `kubernetes` client's DynamicClient so that every object is a plain dict in and out. Transient
failures (the API server restarting, a timeout, 5xx, 429) are raised as `KubeUnavailable`, which the
handlers turn into `kopf.TemporaryError` so Kopf retries with a delay; a 404 on read is "absent", not an
error. Secret values pass through here and go nowhere else: they are never logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from urllib3.exceptions import HTTPError

from switchboard_proxy.config import API_VERSION

from .apierrors import KubeConflict, KubeUnavailable
from .objects import PLURALS
from .reconciling import EventNote

FIELD_MANAGER = "switchboard-operator"
COMPONENT = "switchboard-operator"
PEERING_API = "kopf.dev/v1"


@contextmanager
def _api_errors() -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        if exc.status in (None, 0, 429) or (exc.status or 0) >= 500:
            raise KubeUnavailable(f"API server answered {exc.status}: {exc.reason}") from None
        raise
    except (HTTPError, OSError) as exc:
        raise KubeUnavailable(f"API server unreachable: {type(exc).__name__}") from None


def load_client() -> k8s.ApiClient:
    """In-cluster service account when running in a pod, else $KUBECONFIG / ~/.kube/config."""
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.ApiClient()


class Kube:
    """API access for reconciling (implements reconciling.Kube)."""

    def __init__(self, api_client: k8s.ApiClient, *, field_manager: str = FIELD_MANAGER) -> None:
        self.field_manager = field_manager  # one per replica, so managedFields show who wrote what
        with _api_errors():
            self._dynamic = DynamicClient(api_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        return self._dynamic.resources.get(api_version=api_version, kind=kind)

    def list_objects(self, namespace: str) -> list[dict[str, Any]]:
        """Every ModelEndpoint, FallbackPolicy and ModelRoute of the namespace."""
        found: list[dict[str, Any]] = []
        with _api_errors():
            for kind in PLURALS:
                listing = self._resource(API_VERSION, kind).get(namespace=namespace).to_dict()
                for item in listing.get("items") or []:
                    found.append({**item, "kind": kind})
        return found

    def read_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data (base64 values), or None when it does not exist."""
        obj = self.read(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}}
        )
        return dict(obj.get("data") or {}) if obj is not None else None

    def read(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The live version of `obj` (by apiVersion, kind, namespace, name), or None."""
        metadata = obj["metadata"]
        with _api_errors():
            try:
                live = self._resource(obj["apiVersion"], obj["kind"]).get(
                    name=metadata["name"], namespace=metadata.get("namespace")
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        result: dict[str, Any] = live.to_dict()
        return result

    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply as the operator's field manager (taking over conflicting fields)."""
        with _api_errors():
            self._dynamic.server_side_apply(
                self._resource(obj["apiVersion"], obj["kind"]),
                body=obj,
                namespace=obj["metadata"]["namespace"],
                field_manager=self.field_manager,
                force_conflicts=True,
            )

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the status subresource of one Switchboard object (gone meanwhile: ignored)."""
        kind = next(k for k, p in PLURALS.items() if p == plural)
        resource = self._resource(API_VERSION, kind)
        with _api_errors():
            try:
                resource.status.patch(
                    body={"status": status},
                    name=name,
                    namespace=namespace,
                    content_type="application/merge-patch+json",
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def post_event(self, namespace: str, note: EventNote) -> None:
        """A core/v1 Event on the object, as `kubectl describe` shows them."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{note.name}.{uuid.uuid4().hex[:12]}", "namespace": namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": note.kind,
                "name": note.name,
                "namespace": namespace,
                "uid": note.uid,
            },
            "type": note.type,
            "reason": note.reason,
            "message": note.message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with _api_errors():
            self._resource("v1", "Event").create(body=event, namespace=namespace)

    def replace(self, obj: dict[str, Any]) -> None:
        """PUT `obj` as read (its resourceVersion guards it): KubeConflict if it changed meanwhile."""
        metadata = obj["metadata"]
        with _api_errors():
            try:
                self._resource(obj["apiVersion"], obj["kind"]).replace(
                    body=obj, name=metadata["name"], namespace=metadata.get("namespace")
                )
            except ApiException as exc:
                if exc.status == 409:
                    raise KubeConflict(f"{obj['kind']} {metadata['name']} changed meanwhile") from None
                raise

    def set_ca_bundle(self, configuration: str, bundle: str) -> bool:
        """Make every webhook of a MutatingWebhookConfiguration trust `bundle` (base64 PEM); True if that
        needed a patch."""
        resource = self._resource("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
        with _api_errors():
            live = resource.get(name=configuration).to_dict()
            operations = [
                {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle}
                for index, webhook in enumerate(live.get("webhooks") or [])
                if (webhook.get("clientConfig") or {}).get("caBundle") != bundle
            ]
            if operations:
                resource.patch(
                    body=operations, name=configuration, content_type="application/json-patch+json"
                )
        return bool(operations)

    def read_peering(self, name: str, namespace: str | None) -> dict[str, Any]:
        """The status of a KopfPeering (namespace given) or ClusterKopfPeering: peer id -> keep-alive."""
        kind = "KopfPeering" if namespace else "ClusterKopfPeering"
        found = self.read(
            {"apiVersion": PEERING_API, "kind": kind, "metadata": {"name": name, "namespace": namespace}}
        )
        return dict((found or {}).get("status") or {})
