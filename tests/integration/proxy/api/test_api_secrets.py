"""Upstream keys reach upstreams and nothing else: not a log line, a metric, an ops page or an error body.

Keys come from the environment (`apiKey: {env: ...}`) and from `--credentials-dir` files (`secretRef`).
The sidecar runs at debug log level, so that even its chattiest output is checked. The sim records key
headers as `[REDACTED]`; that they were present and right shows in the sim answering 200 at all (it
answers 401 to a wrong or missing key).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sidecars import azure_endpoint, chat_body

from support.fake_upstream import FakeUpstream, running_fake_upstream
from support.stack import Reply, Stack, endpoint, route, start_proxy, start_sim, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ENV_KEY = "sk-test-SECRET-abcdef123456"
FILE_KEY = "sk-test-FILESECRET-987654321"
WRONG_KEY = "sk-test-WRONGKEY-5555555555"
ECHO_KEY = "sk-test-ECHOED-13579acegik"
SECRETS = (ENV_KEY, FILE_KEY, WRONG_KEY, ECHO_KEY)
ENV = {"SB_KEY": ENV_KEY, "SB_WRONG_KEY": WRONG_KEY, "SB_ECHO_KEY": ECHO_KEY}


@dataclass
class SecretStack:
    stack: Stack
    echo: FakeUpstream
    replies: list[Reply]

    def post(self, path: str, body: Any, **options: Any) -> Reply:
        reply = self.stack.post(path, body, **options)
        self.replies.append(reply)
        return reply


@pytest.fixture(scope="module")
def secret_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretStack]:
    tmp = tmp_path_factory.mktemp("secrets")
    sim = start_sim(
        {
            "keyed-env": {"api_key": ENV_KEY},
            "keyed-file": {"api_key": FILE_KEY},
            "keyed-anth": {"api_key": ENV_KEY},
        },
        tmp_dir=tmp,
    )
    credentials = tmp / "credentials"
    credentials.mkdir()
    (credentials / "file-keyed").write_text(FILE_KEY + "\n")
    try:
        with running_fake_upstream() as echo:
            resources = write_resources(tmp / "resources", documents(sim.base_url, echo.base_url))
            proxy = start_proxy(
                resources=resources,
                env=ENV,
                args=["--credentials-dir", str(credentials), "--log-level", "debug"],
            )
            try:
                yield SecretStack(Stack(sim=sim, proxy=proxy, resources=resources), echo, [])
            finally:
                proxy.stop()
    finally:
        sim.stop()


def documents(sim_url: str, echo_url: str) -> list[dict[str, Any]]:
    no_failover = {
        "apiVersion": "switchboard.dev/v1alpha1",
        "kind": "FallbackPolicy",
        "metadata": {"name": "once"},
        "spec": {"retries": {"attempts": 0}},
    }
    return [
        endpoint("env-keyed", sim_url, model="keyed-env", apiKey={"env": "SB_KEY"}),
        endpoint(
            "file-keyed", sim_url, model="keyed-file", apiKey={"secretRef": {"name": "llm", "key": "key"}}
        ),
        endpoint("anth-keyed", sim_url, model="keyed-anth", provider="anthropic", apiKey={"env": "SB_KEY"}),
        endpoint("wrong-keyed", sim_url, model="keyed-env", apiKey={"env": "SB_WRONG_KEY"}),
        endpoint("echo", echo_url, model="echo-key", apiKey={"env": "SB_ECHO_KEY"}),
        azure_endpoint("echo-azure", echo_url, deployment="echo-key", key_env="SB_ECHO_KEY"),
        no_failover,
        route("env", ["env-keyed"], default=True),
        route("file", ["file-keyed"]),
        route("anth", ["anth-keyed"]),
        route("wrong", ["wrong-keyed"], fallbackPolicy="once"),
        route("echo", ["echo"]),
        route("echo-azure", ["echo-azure"]),
    ]


def assert_no_secret(text: str | bytes, where: str) -> None:
    data = text.decode(errors="replace") if isinstance(text, bytes) else text
    for secret in SECRETS:
        assert secret not in data, f"{secret} leaked in {where}"
        assert secret[8:] not in data, f"part of {secret} leaked in {where}"


def test_env_and_file_keys_reach_the_upstream(secret_stack: SecretStack) -> None:
    stack = secret_stack.stack
    for model, sim_model in (("env", "keyed-env"), ("file", "keyed-file")):
        for stream in (False, True):
            reply = secret_stack.post("/v1/chat/completions", chat_body(model, stream=stream))
            assert reply.status == 200, reply.body
        sent = stack.sim_requests(sim_model)[-1]
        assert sent["headers"]["authorization"] == "[REDACTED]"
    reply = secret_stack.post(
        "/v1/messages", {"model": "anth", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert reply.status == 200, reply.body
    assert stack.sim_requests("keyed-anth")[-1]["headers"]["x-api-key"] == "[REDACTED]"


def test_the_callers_own_key_is_not_forwarded(secret_stack: SecretStack) -> None:
    reply = secret_stack.post(
        "/v1/chat/completions", chat_body("env"), headers={"Authorization": "Bearer caller-key-000000"}
    )
    assert reply.status == 200  # the endpoint's key was sent, not the caller's


def test_an_upstream_401_is_answered_without_any_key(secret_stack: SecretStack) -> None:
    reply = secret_stack.post("/v1/chat/completions", chat_body("wrong"))
    assert reply.status in (502, 503), reply.body
    assert set(reply.json()["error"]) == {"message", "type", "code", "param"}
    assert_no_secret(reply.body, "401 answer")
    assert_no_secret(str(reply.headers), "401 answer headers")


@pytest.mark.parametrize("model", ["echo", "echo-azure"])
def test_an_upstream_error_that_echoes_the_key_is_scrubbed(secret_stack: SecretStack, model: str) -> None:
    reply = secret_stack.post("/v1/chat/completions", chat_body(model))
    assert reply.status == 400  # the client's own mistake: passed through in the upstream's words...
    received = secret_stack.echo.received[-1].headers
    assert ECHO_KEY in (received.get("authorization", "") + received.get("api-key", ""))
    assert b"invalid request" in reply.body and b"[REDACTED]" in reply.body  # ...with the key removed
    assert_no_secret(reply.body, "pass-through error")


def test_no_key_anywhere_the_sidecar_shows_or_writes(secret_stack: SecretStack) -> None:
    stack = secret_stack.stack
    # Traffic of every kind first, so that logs and metrics have something to say.
    for model in ("env", "file", "wrong", "echo", "echo-azure", "nope"):
        secret_stack.post("/v1/chat/completions", chat_body(model), headers={"X-Switchboard-Route": model})
    secret_stack.post("/v1/chat/completions", None, raw=b"{broken")
    pages = {
        path: stack.get(path)
        for path in ("/metrics", "/switchboard/config", "/switchboard/endpoints", "/readyz")
    }
    for path, reply in pages.items():
        assert reply.status == 200
        assert_no_secret(reply.body, path)
    endpoints = pages["/switchboard/endpoints"].json()["endpoints"]
    assert endpoints["env-keyed"]["key"] == "set" and endpoints["file-keyed"]["key"] == "set"
    for reply in secret_stack.replies:
        assert_no_secret(reply.body, "a response body")
        assert_no_secret(str(reply.headers), "response headers")
    deadline = time.monotonic() + 5  # the access log is flushed every 100 ms
    while '"route":"wrong"' not in (log := stack.proxy.log_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert '"route":"wrong"' in log and "config" in log  # the log did record this traffic
    assert_no_secret(log, "the sidecar's log")


def test_resources_on_disk_never_hold_a_key(secret_stack: SecretStack) -> None:
    text = "\n".join(path.read_text() for path in Path(secret_stack.stack.resources).rglob("*.yaml"))
    assert_no_secret(text, "resources")
