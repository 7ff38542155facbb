"""The webhook's serving certificate at run time: one SSL context, reloaded in place, from one of two sources.

- `SecretTls` (the chart's default): the operator keeps a self-signed CA and a serving certificate in a
  Secret that the chart creates empty. Every replica runs `ensure(now)` at start and then periodically:
  read the Secret, let `certificates.plan_tls` say what it should hold, write that back guarded by the
  resourceVersion (two replicas racing: the loser reads again and finds the winner's), make the
  MutatingWebhookConfiguration's caBundle trust it, and only then serve the new certificate. So the API
  server trusts a certificate before any replica presents it, and every replica presents one from the
  same CA (or from the previous one, which stays in the bundle until it expires).
- `FileTls` (cert-manager, or files made by hand): the certificate and key files, reloaded when their
  content changes (the kubelet swaps a mounted Secret's files when cert-manager renews it).

Kopf's webhook server is handed `ServingTls.context`; loading a new chain into that context changes the
certificate of the next handshake without restarting the listener, so a rotation refuses no connection.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from .apierrors import KubeConflict
from .certificates import TLS_CERT, TLS_KEY, RotationPolicy, ca_bundle, plan_tls

log = logging.getLogger("switchboard.operator")
ATTEMPTS = 3


class MissingTlsSecret(RuntimeError):
    """The Secret that should hold the webhook's CA does not exist (the chart creates it)."""


@dataclass
class ServingTls:
    """The server-side SSL context of the webhook and the PEM files it is loaded from."""

    cert_file: Path
    key_file: Path
    context: ssl.SSLContext = field(
        default_factory=lambda: ssl.create_default_context(purpose=ssl.Purpose.CLIENT_AUTH)
    )
    digest: str = ""  # of the chain loaded now; "" before the first load

    @property
    def is_loaded(self) -> bool:
        return bool(self.digest)

    def serve(self, cert: bytes, key: bytes) -> bool:
        """Write the files (atomically) and load them, unless that is what is served already."""
        digest = hashlib.sha256(cert + key).hexdigest()
        if digest == self.digest:
            return False
        for path, content in ((self.key_file, key), (self.cert_file, cert)):
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_bytes(content)
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        return self._load(digest)

    def reload_files(self) -> bool:
        """Load the files again if someone else changed them (a half-swapped pair is tried next time)."""
        try:
            digest = hashlib.sha256(self.cert_file.read_bytes() + self.key_file.read_bytes()).hexdigest()
        except OSError as exc:
            log.warning("webhook certificate files unreadable: %s", exc)
            return False
        return digest != self.digest and self._load(digest)

    def _load(self, digest: str) -> bool:
        try:
            self.context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (ssl.SSLError, OSError) as exc:
            log.warning("webhook certificate not loaded (kept the previous one): %s", exc)
            return False
        self.digest = digest
        log.info("webhook serving certificate loaded (%s)", digest[:12])
        return True


class TlsKube(Protocol):
    """The API calls `SecretTls` needs (switchboard_operator.kube implements them)."""

    def read(self, obj: dict[str, Any]) -> dict[str, Any] | None: ...
    def replace(self, obj: dict[str, Any]) -> None: ...
    def set_ca_bundle(self, configuration: str, bundle: str) -> bool: ...


@dataclass
class SecretTls:
    """The self-signed CA and serving certificate kept in a Secret (see the module docstring)."""

    kube: TlsKube
    secret: tuple[str, str]  # namespace, name
    configuration: str  # the MutatingWebhookConfiguration whose caBundle must trust the CA ("": none)
    hosts: list[str]
    policy: RotationPolicy
    serving: ServingTls

    def ensure(self, now: datetime) -> None:
        """Renew what is due, make the webhook configuration trust it, serve it."""
        data = self._settle(now)
        if self.configuration:
            bundle = base64.b64encode(ca_bundle(data)).decode()
            if self.kube.set_ca_bundle(self.configuration, bundle):
                log.info("caBundle of MutatingWebhookConfiguration %s updated", self.configuration)
        self.serving.serve(data[TLS_CERT], data[TLS_KEY])

    def _settle(self, now: datetime) -> dict[str, bytes]:
        namespace, name = self.secret
        for _ in range(ATTEMPTS):
            found = self.kube.read(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}}
            )
            if found is None:
                raise MissingTlsSecret(f"Secret {namespace}/{name} does not exist (the chart creates it)")
            current = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
            planned = plan_tls(current, hosts=self.hosts, now=now, policy=self.policy)
            if planned is current:
                return current
            found["data"] = {k: base64.b64encode(v).decode() for k, v in planned.items()}
            try:
                self.kube.replace(found)
            except KubeConflict:
                continue  # another replica renewed it first: use theirs
            log.info("webhook certificate in Secret %s/%s renewed (%s)", namespace, name, sorted(planned))
            return dict(planned)
        raise KubeConflict(f"Secret {namespace}/{name} kept changing; will try again")


@dataclass
class FileTls:
    """A certificate someone else renews (cert-manager): only reloaded."""

    serving: ServingTls

    def ensure(self, now: datetime) -> None:
        self.serving.reload_files()
