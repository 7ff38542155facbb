"""Hot reload: a new config is served within seconds, a bad one is refused, and no request is lost.

Configs are published the kubelet's way (`..data` symlink swapped by one rename). Every check of "served"
looks at routing (X-Switchboard-Endpoint) as well as at `/switchboard/config` and the metrics.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubelet_volume import KubeletVolume, compile_config, config_version
from sidecars import chat_body, wait_until

from support.processes import Process
from support.stack import Stack, endpoint, http, policy, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def versioned_documents(sim_url: str, target: str, *, with_slow: bool = True) -> list[dict[str, Any]]:
    """Route `chat` to `target`; the `slow` route exists only `with_slow`."""
    documents = [
        endpoint("chat-a", sim_url),
        endpoint("chat-b", sim_url),
        route("chat", [target], default=True),
    ]
    if with_slow:
        documents += [endpoint("slow", sim_url), route("slow", ["slow"])]
    return documents


@pytest.fixture
def configs(sim: Process) -> dict[str, str]:
    return {
        "a": compile_config(versioned_documents(sim.base_url, "chat-a")),
        "b": compile_config(versioned_documents(sim.base_url, "chat-b", with_slow=False)),
    }


@pytest.fixture
def volume(tmp_path: Path, configs: dict[str, str]) -> KubeletVolume:
    volume = KubeletVolume(tmp_path / "config-volume")
    volume.publish({"config.json": configs["a"]})
    return volume


@contextmanager
def sidecar(sim: Process, volume: KubeletVolume, *args: str) -> Iterator[Stack]:
    proxy = start_proxy(config=volume.path("config.json"), args=args)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=volume.directory)
    finally:
        proxy.stop()


@pytest.fixture
def stack_on_volume(sim: Process, volume: KubeletVolume) -> Iterator[Stack]:
    with sidecar(sim, volume) as stack:
        yield stack


def served_version(stack: Stack) -> str:
    return str(stack.get("/switchboard/config").json()["version"])


def served_by(stack: Stack) -> str:
    reply = stack.post("/v1/chat/completions", chat_body("chat"))
    assert reply.status == 200, reply.body
    return reply.header("X-Switchboard-Endpoint") or ""


def test_kubelet_symlink_swap_is_served_within_seconds(
    stack_on_volume: Stack, volume: KubeletVolume, configs: dict[str, str]
) -> None:
    stack = stack_on_volume
    assert served_version(stack) == config_version(configs["a"]) and served_by(stack) == "chat-a"
    started = time.monotonic()
    volume.publish({"config.json": configs["b"]})
    wait_until(lambda: served_version(stack) == config_version(configs["b"]), timeout=5)
    assert time.monotonic() - started < 5
    assert served_by(stack) == "chat-b"
    assert stack.metric("switchboard_config_info", version=config_version(configs["b"])) == 1
    assert stack.metric("switchboard_config_info", version=config_version(configs["a"])) == 0
    status = stack.get("/switchboard/config").json()
    assert status["source"] == str(volume.path("config.json")) and status["routes"] == ["chat"]
    assert status["last_error"] is None and status["loaded_at"]


def test_sighup_reloads_without_waiting_for_the_poll(
    sim: Process, volume: KubeletVolume, configs: dict[str, str]
) -> None:
    with sidecar(sim, volume, "--poll-seconds", "3600") as stack:
        volume.publish({"config.json": configs["b"]})
        time.sleep(0.5)
        assert served_version(stack) == config_version(configs["a"])  # nobody looked yet
        stack.proxy.send_signal(signal.SIGHUP)
        wait_until(lambda: served_version(stack) == config_version(configs["b"]), timeout=3)
        assert served_by(stack) == "chat-b"


def refused_count(stack: Stack) -> float:
    return stack.metric("switchboard_config_reloads_total", result="error")


BROKEN = ("bad-json", "json-missing-fields", "unknown-field", "ghost-endpoint", "ghost-default")


def test_invalid_configs_are_refused_and_the_last_good_keeps_serving(
    stack_on_volume: Stack, volume: KubeletVolume, configs: dict[str, str]
) -> None:
    stack = stack_on_volume
    good = config_version(configs["a"])
    for how in BROKEN:
        before = refused_count(stack)
        volume.publish({"config.json": broken_config(configs["a"], how)})
        wait_until(lambda b=before: refused_count(stack) == b + 1, timeout=5)
        status = stack.get("/switchboard/config").json()
        assert status["version"] == good and status["last_error"] and status["last_error_at"], how
        assert stack.metric("switchboard_config_last_reload_failed") == 1, how
        assert stack.metric("switchboard_config_info", version=good) == 1, how
        assert stack.get("/readyz").status == 200, how
        for model in ("chat", "anything"):  # the last good config still serves
            reply = stack.post("/v1/chat/completions", chat_body(model))
            assert reply.status == 200 and reply.header("X-Switchboard-Endpoint") == "chat-a", how
        # Putting the last good file back is a success again (same config: nothing to rebuild).
        volume.publish({"config.json": configs["a"]})
        wait_until(lambda: stack.metric("switchboard_config_last_reload_failed") == 0, timeout=5)
        assert stack.get("/switchboard/config").json()["last_error"] is None, how
    assert "Traceback" not in stack.proxy.log_text()
    volume.publish({"config.json": configs["b"]})
    wait_until(lambda: served_version(stack) == config_version(configs["b"]), timeout=5)
    assert stack.get("/switchboard/config").json()["reloads"]["refused"] == len(BROKEN)


def broken_config(good: str, how: str) -> str:
    """`good` spoiled in one way: not JSON, not the schema, or names that point nowhere."""
    if how == "bad-json":
        return "{not json"
    if how == "json-missing-fields":
        return '{"version": "x"}'
    document = json.loads(good)
    if how == "unknown-field":
        document["routes"]["chat"]["colour"] = "blue"
    elif how == "ghost-endpoint":
        document["routes"]["chat"]["variants"][0]["targets"][0]["endpoint"] = "ghost"
    else:
        document["default_route"] = "ghost"
    document["version"] = "tampered-" + how
    return json.dumps(document)


def test_resources_mode_reloads_when_a_file_changes(sim: Process, tmp_path: Path) -> None:
    resources = write_resources(tmp_path / "resources", versioned_documents(sim.base_url, "chat-a"))
    proxy = start_proxy(resources=resources)
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=resources)
        assert served_by(stack) == "chat-a"
        first = served_version(stack)
        write_resources(resources, versioned_documents(sim.base_url, "chat-b"))
        wait_until(lambda: served_version(stack) != first, timeout=5)
        assert served_by(stack) == "chat-b"
        before = refused_count(stack)
        (resources / "resources.yaml").write_text("kind: ModelRoute\nspec: [unclosed\n")
        wait_until(lambda: refused_count(stack) > before, timeout=5)
        assert served_by(stack) == "chat-b"
        assert stack.get("/switchboard/config").json()["last_error"]
    finally:
        proxy.stop()


@pytest.mark.parametrize("key", ["on", '"on"'], ids=["bare", "quoted"])
def test_a_policy_that_still_says_on_is_refused_naming_triggers(
    sim: Process, tmp_path: Path, key: str
) -> None:
    resources = write_resources(tmp_path / "resources", versioned_documents(sim.base_url, "chat-a"))
    proxy = start_proxy(resources=resources)
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=resources)
        served = served_version(stack)
        before = refused_count(stack)
        (resources / "policy.yaml").write_text(
            "apiVersion: switchboard.dev/v1alpha1\nkind: FallbackPolicy\nmetadata: {name: old}\n"
            f"spec:\n  {key}: [timeout]\n"
        )
        wait_until(lambda: refused_count(stack) > before, timeout=5)
        status = stack.get("/switchboard/config").json()
        assert (
            "FallbackPolicy/old" in status["last_error"] and "renamed to `triggers`" in status["last_error"]
        )
        assert status["version"] == served  # the last good config goes on serving
    finally:
        proxy.stop()


def test_rotated_credentials_reach_upstream_requests(sim: Process, tmp_path: Path) -> None:
    new_key, old_key = "sk-rotated-NEW-00000000001", "sk-rotated-OLD-00000000002"
    assert http("PUT", f"{sim.base_url}/sim/models/rot", {"api_key": new_key}).status == 200
    credentials = KubeletVolume(tmp_path / "credentials")
    credentials.publish({"rot": old_key})
    documents = [
        endpoint("rot", sim.base_url, apiKey={"secretRef": {"name": "llm", "key": "key"}}),
        endpoint("chat-a", sim.base_url),
        policy(
            "to-a",
            chain=["chat-a"],
            retries={"attempts": 0},
            circuitBreaker={"consecutiveFailures": 1000, "openSeconds": 1},
        ),
        route("rot", ["rot"], default=True, fallbackPolicy="to-a"),
    ]
    resources = write_resources(tmp_path / "resources", documents)
    proxy = start_proxy(resources=resources, args=["--credentials-dir", str(credentials.directory)])
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=resources)
        reply = stack.post("/v1/chat/completions", chat_body("rot"))
        assert reply.header("X-Switchboard-Endpoint") == "chat-a"  # rot answered 401: failed over
        assert reply.header("X-Switchboard-Fallback-Reason") == "server-error"
        credentials.publish({"rot": new_key})
        wait_until(lambda: served_by_route(stack, "rot") == "rot", timeout=5)
        assert stack.sim_stats()["rot"]["outcomes"].get("unauthorized", 0) >= 1
        assert new_key not in proxy.log_text() and old_key not in proxy.log_text()
    finally:
        proxy.stop()


def served_by_route(stack: Stack, model: str) -> str:
    reply = stack.post("/v1/chat/completions", chat_body(model))
    assert reply.status == 200, reply.body
    return reply.header("X-Switchboard-Endpoint") or ""


def test_reload_under_load_loses_no_request_and_inflight_streams_finish(
    stack_on_volume: Stack, volume: KubeletVolume, configs: dict[str, str]
) -> None:
    stack = stack_on_volume
    slow_result: dict[str, Any] = {}
    slow = threading.Thread(
        target=lambda: slow_result.update(
            reply=stack.post(
                "/v1/chat/completions",
                chat_body("slow", stream=True),
                headers={"X-Switchboard-Route": "slow"},
            )
        )
    )
    slow.start()
    wait_until(lambda: stack.sim_stats()["slow"]["inflight"] == 1, timeout=3)
    swaps_done = threading.Event()

    def swap() -> None:
        try:
            for index in range(10):
                name = "b" if index % 2 == 0 else "a"
                volume.publish({"config.json": configs[name]})
                wait_until(lambda n=name: served_version(stack) == config_version(configs[n]), timeout=5)
                time.sleep(0.1)
        finally:
            swaps_done.set()

    swapper = threading.Thread(target=swap)
    swapper.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda i: one_request(stack, i, swaps_done), range(300)))
        while not swaps_done.is_set():  # keep the load on until every swap happened
            replies += list(pool.map(lambda i: one_request(stack, i, swaps_done), range(16)))
    swapper.join(timeout=30)
    slow.join(timeout=30)
    failures = [r for r in replies if r[0] != 200]
    assert not failures, failures[:5]
    assert len(replies) >= 300
    assert {endpoint for _, endpoint in replies} == {"chat-a", "chat-b"}
    status = stack.get("/switchboard/config").json()
    assert status["version"] == config_version(configs["a"]) and status["reloads"]["applied"] >= 11
    # The stream that started on version a finished there, in full, although b has no `slow` at all.
    reply = slow_result["reply"]
    assert reply.status == 200 and reply.header("X-Switchboard-Endpoint") == "slow"
    events = [line for line in reply.body.split(b"\n\n") if line.startswith(b"data: {")]
    assert len(events) == 1 + 40 + 1  # role chunk, 40 content chunks, finish chunk; usage stripped
    assert reply.body.rstrip().endswith(b"data: [DONE]") and b'"error"' not in reply.body


def one_request(stack: Stack, index: int, done: threading.Event) -> tuple[int, str]:
    reply = stack.post("/v1/chat/completions", chat_body("chat", stream=index % 3 == 0))
    if reply.status == 200 and index % 3 == 0:
        assert reply.body.rstrip().endswith(b"data: [DONE]")
    return reply.status, reply.header("X-Switchboard-Endpoint") or ""
