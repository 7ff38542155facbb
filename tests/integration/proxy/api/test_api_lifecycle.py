"""The sidecar's life: ready only with a config, drain on SIGTERM, and clients that hang up.

Each test runs a sidecar of its own, since they signal it, start it without a config, or need its
circuit state untouched by other tests.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPResponse
from pathlib import Path
from typing import Any

import pytest
from kubelet_volume import compile_config
from sidecars import chat_body, start_unready_proxy, wait_until

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_not_ready_until_a_valid_config_then_ready(sim: Process, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{not json")
    proxy = start_unready_proxy(config)
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=tmp_path)
        assert stack.get("/healthz").json() == {"status": "ok"}
        readyz = stack.get("/readyz")
        assert readyz.status == 503 and readyz.json()["status"] == "no config"
        assert readyz.json()["last_error"]
        refused = stack.post("/v1/chat/completions", chat_body())
        assert refused.status == 503 and refused.json()["error"]["code"] == "no_config"
        assert refused.header("Retry-After")
        assert stack.get("/v1/models").status == 503
        status = stack.get("/switchboard/config").json()
        assert status["version"] is None and status["last_error"]
        assert stack.metric("switchboard_config_last_reload_failed") == 1
        config.write_text(
            compile_config([endpoint("chat-a", sim.base_url), route("chat", ["chat-a"], default=True)])
        )
        wait_until(lambda: stack.get("/readyz").status == 200, timeout=5)
        assert stack.post("/v1/chat/completions", chat_body()).status == 200
        assert stack.metric("switchboard_config_last_reload_failed") == 0
        assert "Traceback" not in proxy.log_text()
    finally:
        assert proxy.stop() == 0


def send(url: str, body: dict[str, Any], *, timeout: float = 10) -> HTTPConnection:
    """A connection with the request sent; its answer is read with `getresponse()`."""
    host, port = url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=timeout)
    connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    return connection


def open_stream(url: str, body: dict[str, Any]) -> tuple[HTTPConnection, HTTPResponse]:
    connection = send(url, body)
    return connection, connection.getresponse()


def test_sigterm_drains_an_inflight_stream_then_exits_zero(sim: Process, tmp_path: Path) -> None:
    resources = write_resources(
        tmp_path, [endpoint("slow", sim.base_url), route("slow", ["slow"], default=True)]
    )
    proxy = start_proxy(resources=resources, args=["--drain-seconds", "15"])
    try:
        connection, response = open_stream(proxy.base_url, chat_body("slow", stream=True))
        assert response.status == 200
        lines = [response.readline()]  # the first event arrived: the stream is committed
        proxy.send_signal(signal.SIGTERM)
        port = int(proxy.base_url.rsplit(":", 1)[1])
        wait_until(lambda: refuses_connections(port), timeout=3)
        while line := response.readline():
            lines.append(line)
        connection.close()
        assert proxy.popen.wait(timeout=15) == 0
    finally:
        proxy.stop()
    events = [line for line in lines if line.startswith(b"data: ")]
    assert events[-1].strip() == b"data: [DONE]"
    content = [e for e in events if b'"content":"' in e and b'"role"' not in e]
    assert len(content) == 40  # every token of the slow model, nothing cut
    assert not any(b'"error"' in e for e in events)
    log = proxy.log_text()
    assert "draining" in log and "Traceback" not in log


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def hangup_stack(sim: Process, tmp_path: Path) -> Iterator[Stack]:
    """Circuits that open after two failures: any disconnect wrongly counted would show at once."""
    documents = [
        endpoint("slow", sim.base_url),
        endpoint("stall", sim.base_url),
        policy(
            "strict", retries={"attempts": 0}, circuitBreaker={"consecutiveFailures": 2, "openSeconds": 60}
        ),
        route("slow", ["slow"], default=True, fallbackPolicy="strict"),
        route("stall", ["stall"], fallbackPolicy="strict"),
    ]
    resources = write_resources(tmp_path, documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        assert proxy.stop() == 0


def test_client_disconnect_cancels_the_upstream_and_spares_the_circuit(hangup_stack: Stack) -> None:
    stack = hangup_stack
    stack.fault("stall", ttft_ms=10_000)  # no first byte for ten seconds
    for _ in range(4):  # after the first byte reached the client
        connection, response = open_stream(stack.url, chat_body("slow", stream=True))
        assert response.readline().startswith(b"data: ")
        hang_up(connection)
    for _ in range(3):  # before any byte reached the client
        connection = send(stack.url, chat_body("stall", stream=True), timeout=0.3)
        with pytest.raises(TimeoutError):
            connection.getresponse()
        hang_up(connection)
    wait_until(lambda: all(stack.sim_stats()[m]["inflight"] == 0 for m in ("slow", "stall")), timeout=3)
    stats = stack.sim_stats()
    assert stats["slow"]["outcomes"].get("client-disconnected") == 4, stats["slow"]
    assert stats["stall"]["outcomes"].get("client-disconnected") == 3, stats["stall"]
    wait_until(lambda: stack.metric("switchboard_requests_total", code="499") == 7, timeout=3)
    endpoints = stack.get("/switchboard/endpoints").json()["endpoints"]
    assert endpoints["slow"]["circuit"] == "closed" and endpoints["stall"]["circuit"] == "closed"
    assert endpoints["slow"]["inflight"] == 0 and endpoints["stall"]["inflight"] == 0
    assert stack.metric("switchboard_circuit_open", endpoint="slow") == 0
    reply = stack.post("/v1/chat/completions", chat_body("slow", stream=True, max_tokens=2))
    assert reply.status == 200 and reply.header("X-Switchboard-Endpoint") == "slow"


def hang_up(connection: HTTPConnection) -> None:
    if connection.sock is not None:
        connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()


def test_sigterm_with_an_idle_keepalive_connection_exits_at_once(sim: Process, tmp_path: Path) -> None:
    resources = write_resources(
        tmp_path, [endpoint("chat-a", sim.base_url), route("chat", ["chat-a"], default=True)]
    )
    proxy = start_proxy(resources=resources)
    try:
        connection, response = open_stream(proxy.base_url, chat_body())
        assert response.status == 200 and response.read()  # the connection stays open, idle
        started = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        assert proxy.popen.wait(timeout=10) == 0
        assert time.monotonic() - started < 3  # an idle keep-alive connection does not hold the drain
        connection.close()
    finally:
        proxy.stop()


def test_binds_loopback_only_by_default(tmp_path: Path) -> None:
    """Without --host the sidecar listens on 127.0.0.1 only: apps in the pod reach it, nothing else does."""
    resources = write_resources(
        tmp_path / "resources", [endpoint("a", "http://127.0.0.1:9/v1"), route("r", ["a"], default=True)]
    )
    proxy = start_proxy(resources=resources)
    try:
        port = int(proxy.base_url.rsplit(":", 1)[1])
        listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
        local = {
            fields[1]
            for fields in listening
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port
        }
        assert local == {f"0100007F:{port:04X}"}, local  # 127.0.0.1 in /proc's little-endian hex
    finally:
        proxy.stop()
