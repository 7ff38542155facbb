"""SecretTls and ServingTls against an in-memory API and a real TLS listener on loopback: the Secret is
filled once, a replica that loses the race uses the winner's certificate, the caBundle is patched before
a new certificate is served, and a rotation is seen by the next handshake without a restart."""

from __future__ import annotations

import asyncio
import base64
import copy
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from switchboard_operator.apierrors import KubeConflict
from switchboard_operator.certificates import CA_CERT, TLS_CERT, RotationPolicy, service_hosts
from switchboard_operator.webhook_tls import FileTls, MissingTlsSecret, SecretTls, ServingTls

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = RotationPolicy(ca_validity=timedelta(days=30), cert_validity=timedelta(days=3))
SECRET = ("switchboard-system", "switchboard-webhook-tls")


class FakeApi:
    """The Secret with a resourceVersion, and the webhook configuration's caBundle."""

    def __init__(self) -> None:
        self.secret: dict[str, Any] | None = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET[1], "namespace": SECRET[0], "resourceVersion": "1"},
        }
        self.bundle = ""
        self.calls: list[str] = []
        self.race: dict[str, Any] | None = None  # written by "another replica" just before our replace

    def read(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return copy.deepcopy(self.secret)

    def replace(self, obj: dict[str, Any]) -> None:
        assert self.secret is not None
        if self.race is not None:
            self.secret, self.race = self.race, None
        if obj["metadata"]["resourceVersion"] != self.secret["metadata"]["resourceVersion"]:
            raise KubeConflict("changed")
        self.calls.append("replace")
        version = str(int(self.secret["metadata"]["resourceVersion"]) + 1)
        self.secret = {**copy.deepcopy(obj), "metadata": {**obj["metadata"], "resourceVersion": version}}

    def set_ca_bundle(self, configuration: str, bundle: str) -> bool:
        self.calls.append("bundle")
        changed, self.bundle = bundle != self.bundle, bundle
        return changed

    def secret_value(self, key: str) -> bytes:
        assert self.secret is not None
        return base64.b64decode(self.secret["data"][key])


def keeper(api: FakeApi, directory: Path) -> SecretTls:
    serving = ServingTls(directory / "tls.crt", directory / "tls.key")
    hosts = service_hosts("switchboard.switchboard-system.svc")
    return SecretTls(api, SECRET, "switchboard", hosts, POLICY, serving)


def test_the_empty_secret_is_filled_the_bundle_patched_then_the_certificate_served(tmp_path: Path) -> None:
    api = FakeApi()
    tls = keeper(api, tmp_path)
    tls.ensure(NOW)
    assert api.calls == ["replace", "bundle"] and tls.serving.is_loaded
    assert base64.b64decode(api.bundle) == api.secret_value(CA_CERT)
    assert (tmp_path / "tls.crt").read_bytes() == api.secret_value(TLS_CERT)
    assert oct((tmp_path / "tls.key").stat().st_mode & 0o777) == "0o600"
    tls.ensure(NOW + timedelta(hours=1))
    assert api.calls == ["replace", "bundle", "bundle"]  # nothing due: no write


def test_a_replica_that_loses_the_race_serves_the_winners_certificate(tmp_path: Path) -> None:
    winner_api = FakeApi()
    keeper(winner_api, tmp_path / "winner").ensure(NOW)
    api = FakeApi()
    api.race = winner_api.secret
    tls = keeper(api, tmp_path / "loser")
    tls.ensure(NOW)
    assert api.calls == ["bundle"]  # its own write lost; it read again and found a usable certificate
    assert (tmp_path / "loser" / "tls.crt").read_bytes() == winner_api.secret_value(TLS_CERT)


def test_a_missing_secret_is_an_error_that_says_the_chart_makes_it(tmp_path: Path) -> None:
    api = FakeApi()
    api.secret = None
    with pytest.raises(MissingTlsSecret, match="the chart creates it"):
        keeper(api, tmp_path).ensure(NOW)


async def _handshake_subject(port: int, ca: bytes) -> bytes:
    client = ssl.create_default_context(cadata=ca.decode())
    client.check_hostname = False
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return bytes(peer)


async def test_a_renewed_certificate_is_served_by_the_same_listener(tmp_path: Path) -> None:
    api = FakeApi()
    tls = keeper(api, tmp_path)
    now = datetime.now(UTC)  # the client checks validity against the real clock
    tls.ensure(now - timedelta(days=2))  # still valid now, but due for renewal
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls.serving.context)
    port = server.sockets[0].getsockname()[1]
    try:
        first = await _handshake_subject(port, api.secret_value(CA_CERT))
        tls.ensure(now)
        second = await _handshake_subject(port, api.secret_value(CA_CERT))
    finally:
        server.close()
        await server.wait_closed()
    assert first != second
    assert ssl.DER_cert_to_PEM_cert(second).encode() == api.secret_value(TLS_CERT)


def test_files_renewed_by_someone_else_are_reloaded(tmp_path: Path) -> None:
    source = FakeApi()
    keeper(source, tmp_path / "made").ensure(NOW)
    serving = ServingTls(tmp_path / "made" / "tls.crt", tmp_path / "made" / "tls.key")
    files = FileTls(serving)
    files.ensure(NOW)
    loaded = serving.digest
    files.ensure(NOW)
    assert serving.digest == loaded
    keeper(source, tmp_path / "made").ensure(NOW + timedelta(days=2, hours=1))
    files.ensure(NOW)
    assert serving.digest != loaded
    (tmp_path / "made" / "tls.key").write_bytes(b"half-swapped")
    files.ensure(NOW)  # a broken pair is not loaded: the previous one is kept
    assert serving.digest != "" and serving.is_loaded
