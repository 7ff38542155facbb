"""Operations endpoints: health, readiness, metrics (every SPEC section 7 name), endpoint state, feedback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sidecars import MODEL_IDS, chat_body

from support.stack import Stack, http
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SPEC_METRICS = (
    "switchboard_requests_total",
    "switchboard_request_duration_seconds",
    "switchboard_upstream_duration_seconds",
    "switchboard_time_to_first_token_seconds",
    "switchboard_attempts_total",
    "switchboard_fallbacks_total",
    "switchboard_tokens_total",
    "switchboard_cost_usd_total",
    "switchboard_shed_total",
    "switchboard_circuit_open",
    "switchboard_inflight",
    "switchboard_feedback_score",
    "switchboard_config_reloads_total",
    "switchboard_config_info",
)
# Declared but only sampled when the sidecar sheds load, which no test here provokes.
UNSAMPLED = {"switchboard_shed_total"}


def test_healthz_and_readyz(stack: Stack) -> None:
    assert stack.get("/healthz").json() == {"status": "ok"}
    readyz = stack.get("/readyz")
    assert readyz.status == 200
    assert readyz.json() == {"status": "ready", "version": stack.get("/switchboard/config").json()["version"]}


def test_config_status(stack: Stack) -> None:
    status = stack.get("/switchboard/config").json()
    assert status["version"] and status["loaded_at"].endswith("Z")
    assert status["source"].startswith("resources:")
    assert set(status["routes"]) == MODEL_IDS - {"gpt-4o-mini"}
    assert status["last_error"] is None and status["reloads"]["applied"] >= 1


def test_every_spec_metric_is_exported_after_traffic(stack: Stack) -> None:
    stack.fault("chat-a", fault="error-503", fail_count=1)  # one fallback chat-a -> chat-b
    reply = stack.post("/v1/chat/completions", chat_body(), headers={"X-Request-Id": f"m-{uuid.uuid4().hex}"})
    assert reply.header("X-Switchboard-Endpoint") == "chat-b"
    assert stack.post("/v1/chat/completions", chat_body(stream=True)).status == 200
    assert stack.post("/v1/chat/completions", chat_body()).status == 200
    request_id = reply.header("X-Request-Id")
    assert stack.post("/v1/feedback", {"request_id": request_id, "score": 0.5}).status == 200
    text = stack.get("/metrics").body.decode()
    for name in SPEC_METRICS:
        assert f"# TYPE {name} " in text, name
        if name not in UNSAMPLED:
            assert sample_names(text, name), f"{name} has no sample"
    assert (
        stack.metric(
            "switchboard_fallbacks_total", route="chat", from_endpoint="chat-a", to_endpoint="chat-b"
        )
        >= 1
    )
    assert (
        stack.metric("switchboard_attempts_total", route="chat", endpoint="chat-a", outcome="overloaded") >= 1
    )
    assert stack.metric("switchboard_cost_usd_total", route="chat", endpoint="chat-a") > 0
    assert stack.metric("switchboard_time_to_first_token_seconds_count", route="chat", endpoint="chat-a") >= 1
    assert stack.metric("switchboard_inflight", endpoint="chat-a") == 0
    assert stack.metric("switchboard_config_info") == 1
    assert stack.metric("switchboard_config_reloads_total", result="applied") >= 1


def sample_names(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name) and not line.startswith("#")]


def test_metrics_labels_never_carry_request_values(stack: Stack) -> None:
    marker = f"user-chosen-{uuid.uuid4().hex[:8]}"
    stack.post("/v1/chat/completions", chat_body(marker), headers={"X-Switchboard-Task": marker})
    stack.post("/v1/chat/completions", chat_body(), headers={"X-Switchboard-Route": marker})
    assert marker not in stack.get("/metrics").body.decode()


def test_endpoints_status_fields(stack: Stack) -> None:
    document = stack.get("/switchboard/endpoints").json()
    assert document["version"] == stack.get("/switchboard/config").json()["version"]
    endpoints: dict[str, Any] = document["endpoints"]
    assert set(endpoints) == {"chat-a", "chat-b", "emb", "claude-ep", "slow", "az"}
    for name, state in endpoints.items():
        assert {
            "provider",
            "model",
            "url",
            "circuit",
            "inflight",
            "latency_ms",
            "ttft_ms",
            "limits",
            "key",
        } <= set(state), name
        assert state["circuit"] in ("closed", "open", "half-open")
        assert set(state["limits"]) == {"max_concurrency", "requests_per_minute", "tokens_per_minute"}
    assert endpoints["az"]["provider"] == "azure-openai" and endpoints["az"]["key"] == "set"
    assert endpoints["chat-a"]["key"] == "none" and endpoints["claude-ep"]["provider"] == "anthropic"
    assert stack.post("/v1/chat/completions", chat_body("summarize")).status == 200
    wait_until(
        lambda: stack.get("/switchboard/endpoints").json()["endpoints"]["chat-b"]["latency_ms"] > 0,
        timeout=5,
        what="chat-b's latency estimate",
    )


def test_feedback_is_recorded_for_the_requests_route_variant_and_endpoint(stack: Stack) -> None:
    request_id = f"fb-{uuid.uuid4().hex}"
    reply = stack.post(
        "/v1/chat/completions",
        chat_body("exp"),
        headers={"X-Request-Id": request_id, "X-Switchboard-User": "fb"},
    )
    variant, endpoint = (
        reply.header("X-Switchboard-Variant") or "",
        reply.header("X-Switchboard-Endpoint") or "",
    )
    labels = {"route": "exp", "variant": variant, "endpoint": endpoint}
    count = stack.metric("switchboard_feedback_score_count", **labels)
    total = stack.metric("switchboard_feedback_score_sum", **labels)
    answer = stack.post("/v1/feedback", {"request_id": request_id, "score": 0.75})
    assert answer.status == 200
    assert answer.json() == {"request_id": request_id, "score": 0.75, **labels}
    assert stack.metric("switchboard_feedback_score_count", **labels) == count + 1
    assert stack.metric("switchboard_feedback_score_sum", **labels) == pytest.approx(total + 0.75)
    assert stack.metric("switchboard_feedback_score_bucket", le="0.8", **labels) >= 1


def test_feedback_for_an_unknown_request_is_404(stack: Stack) -> None:
    reply = stack.post("/v1/feedback", {"request_id": "never-seen", "score": 1})
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "unknown_request_id"
    assert reply.json()["error"]["param"] == "request_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"request_id": "x", "score": 1.5}, "score", id="above-one"),
        pytest.param({"request_id": "x", "score": -0.1}, "score", id="negative"),
        pytest.param({"request_id": "x", "score": "good"}, "score", id="string"),
        pytest.param({"request_id": "x", "score": True}, "score", id="bool"),
        pytest.param({"request_id": "x"}, "score", id="missing-score"),
        pytest.param({"score": 0.5}, "request_id", id="missing-id"),
        pytest.param({"request_id": 7, "score": 0.5}, "request_id", id="id-not-a-string"),
        pytest.param([1], "request_id", id="not-an-object"),
    ],
)
def test_bad_feedback_is_400(stack: Stack, body: Any, param: str) -> None:
    reply = stack.post("/v1/feedback", body)
    assert reply.status == 400
    assert reply.json()["error"]["param"] == param


def test_feedback_malformed_json_is_400(stack: Stack) -> None:
    reply = http("POST", stack.url + "/v1/feedback", raw=b"{nope")
    assert reply.status == 400 and reply.json()["error"]["code"] == "invalid_json"
