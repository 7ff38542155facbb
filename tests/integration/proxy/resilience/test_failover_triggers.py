"""Each trigger in `on` fails over to the chain's next endpoint; a trigger not in `on`, or the client's own
mistake, is answered at once (our error shape, or the upstream's 4xx) and never fails over."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

from support.processes import free_port

pytestmark = pytest.mark.integration

CLOSED_PORT_URL = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
FAST_TIMEOUTS = {"connectMs": 300, "firstTokenMs": 400, "totalMs": 400}

# trigger, primary's sim profile, primary's endpoint spec
TRIGGER_CASES = [
    pytest.param("connect-error", {}, {"url": CLOSED_PORT_URL}, id="connect-error"),
    pytest.param("timeout", {"fault": "hang"}, {}, id="timeout-hang"),
    pytest.param("timeout", {"ttft_ms": 5000}, {}, id="timeout-slow-answer"),
    pytest.param("server-error", {"fault": "error-500"}, {}, id="server-error-500"),
    pytest.param("server-error", {"api_key": "sk-expected"}, {}, id="server-error-401-misconfigured-key"),
    pytest.param("rate-limited", {"fault": "rate-limited", "retry_after_s": 1}, {}, id="rate-limited-429"),
    pytest.param("overloaded", {"fault": "error-503"}, {}, id="overloaded-503"),
    pytest.param("overloaded", {"fault": "overloaded"}, {}, id="overloaded"),
]


def _headers(raw: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in raw.headers.items() if k.lower().startswith("x-switchboard-")}


@pytest.mark.parametrize(("trigger", "profile", "primary_spec"), TRIGGER_CASES)
def test_trigger_fails_over_to_the_chain(make_stack, trigger, profile, primary_spec) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 0}, "timeouts": FAST_TIMEOUTS},
        endpoint_specs={"primary": primary_spec},
    )
    stack = make_stack({"primary": profile, "backup": {}}, documents)
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    completion = raw.parse()
    headers = _headers(raw)
    assert completion.model == "backup"
    assert headers["x-switchboard-endpoint"] == "backup"
    assert headers["x-switchboard-fallback-reason"] == trigger
    assert headers["x-switchboard-attempts"] == "2"
    assert (
        stack.metric(
            "switchboard_fallbacks_total",
            route=ROUTE,
            from_endpoint="primary",
            to_endpoint="backup",
            reason=trigger,
        )
        == 1
    )
    stats = stack.sim_stats()
    assert sim_requests(stats, "backup") == 1
    assert sim_requests(stats, "primary") == (0 if trigger == "connect-error" else 1)


def anthropic_chain(sim_url: str) -> list[dict[str, Any]]:
    """Anthropic `primary` falling back to anthropic `backup`, no retries."""
    anthropic = {"provider": "anthropic"}
    return chain_documents(
        sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 0}},
        endpoint_specs={"primary": anthropic, "backup": anthropic},
    )


def test_anthropic_529_overloaded_fails_over(make_stack) -> None:
    documents = anthropic_chain(make_stack.sim_url)
    stack = make_stack({"primary": {"fault": "overloaded"}, "backup": {}}, documents)
    raw = stack.anthropic().messages.with_raw_response.create(model=ROUTE, max_tokens=32, messages=HELLO)
    message = raw.parse()
    assert message.model == "backup" and message.content[0].text
    assert _headers(raw)["x-switchboard-fallback-reason"] == "overloaded"
    assert stack.sim_requests("primary", limit=5)[0]["path"] == "/v1/messages"
    assert stack.metric("switchboard_fallbacks_total", reason="overloaded", to_endpoint="backup") == 1


def test_context_length_fails_over_only_to_a_larger_window(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["smaller", "same", "larger"],
        policy_spec={"retries": {"attempts": 2}},
        endpoint_specs={
            "primary": {"contextWindow": 8192},
            "smaller": {"contextWindow": 4096},
            "same": {"contextWindow": 8192},
            "larger": {"contextWindow": 65536},
        },
    )
    models = {"primary": {"fault": "context-length"}, "smaller": {}, "same": {}, "larger": {}}
    stack = make_stack(models, documents)
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    assert raw.parse().model == "larger"
    assert _headers(raw)["x-switchboard-fallback-reason"] == "context-length"
    assert _headers(raw)["x-switchboard-attempts"] == "2"  # no retry of the same window: it cannot help
    stats = stack.sim_stats()
    assert [sim_requests(stats, m) for m in ("primary", "smaller", "same", "larger")] == [1, 0, 0, 1]
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0
    assert (
        stack.metric("switchboard_attempts_total", endpoint="smaller", outcome="skipped:context-window") == 1
    )


def test_context_length_with_no_larger_window_returns_the_upstream_400(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["smaller"],
        endpoint_specs={"primary": {"contextWindow": 8192}, "smaller": {"contextWindow": 4096}},
    )
    stack = make_stack({"primary": {"fault": "context-length"}, "smaller": {}}, documents)
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().chat.completions.create(model=ROUTE, messages=HELLO)
    assert caught.value.code == "context_length_exceeded"
    assert sim_requests(stack.sim_stats(), "smaller") == 0


def test_request_larger_than_every_window_is_a_400_not_an_outage(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        endpoint_specs={"primary": {"contextWindow": 1024}, "backup": {"contextWindow": 2048}},
    )
    stack = make_stack({"primary": {}, "backup": {}}, documents)
    huge = [{"role": "user", "content": "word " * 4000}]  # ~5,000 tokens: fits neither window
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().chat.completions.create(model=ROUTE, messages=huge)
    assert caught.value.code == "context_length_exceeded"
    assert "primary" in str(caught.value) and "backup" in str(caught.value)
    assert sim_requests(stack.sim_stats(), "primary") == sim_requests(stack.sim_stats(), "backup") == 0


# trigger left out of `on`, primary's profile, primary's endpoint spec, SDK error, status
NOT_IN_ON_CASES = [
    pytest.param(
        "server-error", {"fault": "error-500"}, {}, openai.InternalServerError, 502, id="server-error"
    ),
    pytest.param(
        "connect-error", {}, {"url": CLOSED_PORT_URL}, openai.InternalServerError, 502, id="connect-error"
    ),
    pytest.param(
        "rate-limited",
        {"fault": "rate-limited", "retry_after_s": 7},
        {},
        openai.RateLimitError,
        429,
        id="rate-limited",
    ),
    pytest.param("overloaded", {"fault": "error-503"}, {}, openai.InternalServerError, 503, id="overloaded"),
    pytest.param("timeout", {"fault": "hang"}, {}, openai.InternalServerError, 504, id="timeout"),
]


@pytest.mark.parametrize(("trigger", "profile", "primary_spec", "error", "status"), NOT_IN_ON_CASES)
def test_trigger_not_in_on_is_not_failed_over(
    make_stack, trigger, profile, primary_spec, error, status
) -> None:
    others = [
        t for t in ("connect-error", "timeout", "server-error", "rate-limited", "overloaded") if t != trigger
    ]
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"triggers": others, "retries": {"attempts": 0}, "timeouts": FAST_TIMEOUTS},
        endpoint_specs={"primary": primary_spec},
    )
    stack = make_stack({"primary": profile, "backup": {}}, documents)
    with pytest.raises(error) as caught:
        stack.openai().chat.completions.create(model=ROUTE, messages=HELLO)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == trigger and "primary" in body["message"]
    headers = caught.value.response.headers
    if status in (429, 503):
        assert int(headers["retry-after"]) == (7 if trigger == "rate-limited" else 1)
    assert "x-switchboard-fallback-reason" not in headers or headers["x-switchboard-endpoint"] != "backup"
    assert sim_requests(stack.sim_stats(), "backup") == 0


def test_client_error_passes_through_and_never_opens_a_circuit(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"circuitBreaker": {"consecutiveFailures": 2, "openSeconds": 60}},
        endpoint_specs={"primary": {"provider": "anthropic"}, "backup": {"provider": "anthropic"}},
    )
    stack = make_stack({"primary": {}, "backup": {}}, documents)
    # No max_tokens: the SDK would refuse to send it; the sidecar passes it on and the upstream says 400.
    invalid = {"model": ROUTE, "messages": HELLO}
    for _ in range(4):
        reply = stack.post("/v1/messages", invalid)
        assert reply.status == 400
        assert reply.json()["error"]["type"] == "invalid_request_error"
        assert "max_tokens" in reply.json()["error"]["message"]
        assert reply.header("X-Switchboard-Endpoint") == "primary"
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0
    stats = stack.sim_stats()
    assert sim_requests(stats, "primary") == 4  # no retries either: the same request would fail the same way
    assert sim_requests(stats, "backup") == 0
    message = stack.anthropic().messages.create(model=ROUTE, max_tokens=16, messages=HELLO)
    assert message.model == "primary"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_200_whose_first_event_is_an_error_fails_over(make_stack, stream: bool) -> None:
    documents = chain_documents(
        make_stack.sim_url, ["primary"], ["backup"], policy_spec={"retries": {"attempts": 0}}
    )
    stack = make_stack({"primary": {"fault": "first-event-error"}, "backup": {}}, documents)
    client = stack.openai()
    if stream:
        raw = client.chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO, stream=True)
        chunks = list(raw.parse())
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        models = {c.model for c in chunks}
    else:
        raw = client.chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
        text, models = raw.parse().choices[0].message.content, {raw.parse().model}
    assert text and models == {"backup"}
    assert _headers(raw)["x-switchboard-fallback-reason"] == "server-error"
    assert stack.sim_stats()["primary"]["outcomes"] == {"first-event-error": 1}


def test_anthropic_first_event_error_fails_over(make_stack) -> None:
    documents = anthropic_chain(make_stack.sim_url)
    stack = make_stack({"primary": {"fault": "first-event-error"}, "backup": {}}, documents)
    with stack.anthropic().messages.stream(model=ROUTE, max_tokens=32, messages=HELLO) as events:
        text = "".join(events.text_stream)
        final = events.get_final_message()
    assert text and final.model == "backup"
    assert stack.metric("switchboard_fallbacks_total", reason="overloaded", to_endpoint="backup") == 1
