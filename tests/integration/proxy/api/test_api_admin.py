"""The admin listener (`--admin-port`): /healthz, /readyz and /metrics only, off unless asked for, and still
answering while the main listener drains."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sidecars import chat_body, main_documents

from support.processes import Process, free_port
from support.stack import http, start_proxy, write_resources
from switchboard_proxy.settings import settings_from_args

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def admin_proxy(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, str]]:
    """A sidecar with its admin listener on a free port; (process, admin base URL)."""
    resources = write_resources(tmp_path_factory.mktemp("admin") / "resources", main_documents(sim.base_url))
    port = free_port()
    proxy = start_proxy(resources=resources, args=["--admin-port", str(port), "--drain-seconds", "5"])
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        proxy.stop()


def test_admin_port_serves_health_readiness_and_metrics(admin_proxy: tuple[Process, str]) -> None:
    proxy, admin = admin_proxy
    assert http("GET", f"{admin}/healthz").json() == {"status": "ok"}
    ready = http("GET", f"{admin}/readyz")
    version = http("GET", f"{proxy.base_url}/switchboard/config").json()["version"]
    assert ready.status == 200 and ready.json() == {"status": "ready", "version": version}
    metrics = http("GET", f"{admin}/metrics")
    assert metrics.status == 200
    assert f'switchboard_config_info{{version="{version}"}} 1.0' in metrics.body.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/v1/chat/completions", id="chat"),
        pytest.param("GET", "/v1/models", id="models"),
        pytest.param("GET", "/switchboard/config", id="config"),
        pytest.param("GET", "/switchboard/endpoints", id="endpoints"),
        pytest.param("POST", "/v1/feedback", id="feedback"),
    ],
)
def test_admin_port_serves_nothing_else(admin_proxy: tuple[Process, str], method: str, path: str) -> None:
    _, admin = admin_proxy
    assert http(method, f"{admin}{path}", chat_body() if method == "POST" else None).status == 404


def test_admin_listener_is_off_by_default() -> None:
    """Several local sidecars on one host must not collide on 8788."""
    settings = settings_from_args(["--resources", "examples/"])
    assert settings.admin_port == 0 and settings.admin_host == "127.0.0.1"


def test_readyz_on_the_admin_port_says_draining_while_the_main_listener_drains(
    sim: Process, tmp_path: Path
) -> None:
    """SIGTERM: the admin listener stays up and answers 503 "draining", so the kubelet stops routing to a
    sidecar that is finishing its work, and /healthz stays 200, so it is not restarted meanwhile."""
    resources = write_resources(tmp_path / "resources", main_documents(sim.base_url))
    port = free_port()
    proxy = start_proxy(resources=resources, args=["--admin-port", str(port), "--drain-seconds", "5"])
    admin = f"http://127.0.0.1:{port}"
    try:
        stream = socket.create_connection(("127.0.0.1", int(proxy.base_url.rsplit(":", 1)[1])))
        # An open keep-alive connection with a request in flight holds the drain open.
        body = b'{"model": "slow", "stream": true, "messages": [{"role": "user", "content": "x"}]}'
        stream.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        proxy.send_signal(signal.SIGTERM)
        seen = [http("GET", f"{admin}/readyz", timeout=2) for _ in range(20)]
        assert any(reply.status == 503 and reply.json()["status"] == "draining" for reply in seen), seen
        assert http("GET", f"{admin}/healthz", timeout=2).status == 200
        stream.close()
    finally:
        proxy.stop()
