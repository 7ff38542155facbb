"""`--watch-configmap`: a ConfigMap change is served in seconds, without waiting for the kubelet's file.

A fake API server (plain HTTP through `--kube-api`) plays the Kubernetes API; the mounted file stays at
the bootstrap version the whole time, so every change seen must have come through the watch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fake_kube_api import fake_kube_api
from kubelet_volume import compile_config, config_version
from sidecars import chat_body, wait_until

from support.processes import Process
from support.stack import Stack, endpoint, http, route, start_proxy, start_sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def documents(sim_url: str, target: str, *, padding: int = 0) -> list[dict[str, Any]]:
    extra: list[dict[str, Any]] = [endpoint(f"pad-{i:04d}", sim_url) for i in range(padding)]
    return [
        endpoint("chat-a", sim_url),
        endpoint("chat-b", sim_url),
        *extra,
        route("chat", [target], default=True),
    ]


def test_configmap_changes_are_served_in_seconds_even_when_large(sim: Process, tmp_path: Path) -> None:
    bootstrap = compile_config(documents(sim.base_url, "chat-a"))
    from_api = compile_config(documents(sim.base_url, "chat-b"))
    large = compile_config(documents(sim.base_url, "chat-a", padding=900))
    # A watch event is one line: this one is past twice aiohttp's default read buffer (256 KiB in 3.14,
    # 64 KiB before), the longest line it reads by default; and its data still fits a ConfigMap (1 MiB).
    assert len(json.dumps({"data": {"config.json": large}})) > 2 * 256 * 1024 and len(large) < 1024 * 1024
    config = tmp_path / "config.json"
    config.write_text(bootstrap)
    token = tmp_path / "token"
    token.write_text("fake-service-account-token\n")
    with fake_kube_api(from_api) as api:
        args = ["--watch-configmap", "team-a/switchboard-config", "--kube-api", api.base_url]
        proxy = start_proxy(config=config, args=[*args, "--kube-token-file", str(token)])
        try:
            stack = Stack(sim=sim, proxy=proxy, resources=tmp_path)
            wait_until(lambda: version(stack) == config_version(from_api), timeout=5)  # the list
            assert served_by(stack) == "chat-b"
            wait_until(lambda: api.watches >= 1, timeout=5)
            for new in (bootstrap, large, from_api):  # then each watch event
                started = time.monotonic()
                api.modify(new)
                wait_until(lambda n=new: version(stack) == config_version(n), timeout=5)
                assert time.monotonic() - started < 4
            assert served_by(stack) == "chat-b"
            assert stack.get("/switchboard/config").json()["source"] == "configmap team-a/switchboard-config"
            assert set(api.authorizations) == {"Bearer fake-service-account-token"}
            assert "fake-service-account-token" not in proxy.log_text()
        finally:
            assert proxy.stop() == 0


def test_the_mounted_file_is_the_fallback_while_the_api_is_unreachable(sim: Process, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(compile_config(documents(sim.base_url, "chat-a")))
    unreachable = "http://127.0.0.1:9"  # discard port: connection refused
    proxy = start_proxy(config=config, args=["--watch-configmap", "ns/cm", "--kube-api", unreachable])
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=tmp_path)
        assert served_by(stack) == "chat-a"
        newer = compile_config(documents(sim.base_url, "chat-b"))
        config.write_text(newer)
        wait_until(lambda: version(stack) == config_version(newer), timeout=5)
        assert served_by(stack) == "chat-b"
        assert "ConfigMap watch ns/cm failed" in proxy.log_text()
    finally:
        assert proxy.stop() == 0


def version(stack: Stack) -> str:
    return str(stack.get("/switchboard/config").json()["version"])


def served_by(stack: Stack) -> str:
    reply = stack.post("/v1/chat/completions", chat_body())
    assert reply.status == 200, reply.body
    return reply.header("X-Switchboard-Endpoint") or ""


def test_a_rotated_key_file_is_applied_while_the_watch_is_connected(tmp_path: Path) -> None:
    """Keys come only from the mounted Secret, even while the API watch is the config's source: a rotated
    key file is applied to the config being served (found on a real node: it was ignored until the watch
    dropped)."""
    old, new = "sk-rotation-old-0123456789", "sk-rotation-new-9876543210"
    sim = start_sim({"keyed": {"api_key": old}}, tmp_dir=tmp_path)
    keyed = endpoint("vault", sim.base_url, model="keyed", apiKey={"secretRef": {"name": "llm", "key": "k"}})
    served = compile_config([keyed, route("chat", ["vault"], default=True)])
    (tmp_path / "config.json").write_text(served)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "vault").write_text(old)
    (tmp_path / "token").write_text("fake-service-account-token\n")
    with fake_kube_api(served) as api:
        args = ["--watch-configmap", "team-a/switchboard-config", "--kube-api", api.base_url]
        args += ["--kube-token-file", str(tmp_path / "token"), "--credentials-dir", str(credentials)]
        proxy = start_proxy(config=tmp_path / "config.json", args=args)
        try:
            stack = Stack(sim=sim, proxy=proxy, resources=tmp_path)
            wait_until(lambda: api.watches >= 1, timeout=5)
            assert stack.post("/v1/chat/completions", chat_body()).status == 200
            http("PUT", f"{sim.base_url}/sim/models/keyed", {"api_key": new})
            (credentials / "vault.tmp").write_text(new)
            (credentials / "vault.tmp").rename(credentials / "vault")
            wait_until(lambda: stack.post("/v1/chat/completions", chat_body()).status == 200, timeout=5)
            assert new not in proxy.log_text() and old not in proxy.log_text()
        finally:
            assert proxy.stop() == 0
            sim.stop()
