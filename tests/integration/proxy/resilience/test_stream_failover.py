"""Streaming: failover before the first byte is invisible; after it, the stream ends with an SSE error
event and never continues on another model; usage is asked for upstream and stripped when unrequested."""

from __future__ import annotations

import time

import anthropic
import openai
import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

pytestmark = pytest.mark.integration

STREAM_TIMEOUTS = {"connectMs": 300, "firstTokenMs": 400, "totalMs": 2000}
PRICING = {"inputPerMTok": 2.0, "outputPerMTok": 4.0}

BEFORE_FIRST_BYTE = [
    pytest.param({"fault": "first-event-error"}, "server-error", id="first-event-error"),
    pytest.param({"fault": "error-503"}, "overloaded", id="503"),
    pytest.param({"fault": "hang"}, "timeout", id="hang-without-headers"),
    pytest.param({"ttft_ms": 5000}, "timeout", id="headers-then-nothing-until-first-token-timeout"),
    pytest.param({"fault": "reset"}, "connect-error", id="reset"),
]


@pytest.mark.parametrize(("profile", "reason"), BEFORE_FIRST_BYTE)
def test_failover_before_the_first_byte_is_invisible(make_stack, profile, reason) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 0}, "timeouts": STREAM_TIMEOUTS},
    )
    stack = make_stack({"primary": profile, "backup": {"output_tokens": 5}}, documents)
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO, stream=True)
    assert raw.headers["x-switchboard-endpoint"] == "backup"
    assert raw.headers["x-switchboard-fallback-reason"] == reason
    chunks = list(raw.parse())  # the SDK iterates to [DONE] without an error
    assert {c.model for c in chunks} == {"backup"}
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks).split() and len(chunks) == 7
    assert sim_requests(stack.sim_stats(), "primary") == 1


def test_failure_after_the_first_byte_ends_with_an_error_event_and_no_other_model(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url, ["primary"], ["backup"], policy_spec={"timeouts": STREAM_TIMEOUTS}
    )
    profile = {"fault": "midstream-fail", "fail_after_chunks": 2}
    stack = make_stack({"primary": profile, "backup": {}}, documents)
    received = []
    stream = stack.openai().chat.completions.create(model=ROUTE, messages=HELLO, stream=True)
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert "after the stream started" in caught.value.message
    assert caught.value.body["code"] == "stream_interrupted"
    contents = [c.choices[0].delta.content for c in received if c.choices and c.choices[0].delta.content]
    assert len(contents) == 2 and {c.model for c in received} == {"primary"}
    stats = stack.sim_stats()
    assert sim_requests(stats, "backup") == 0
    assert sim_requests(stats, "primary") == 1  # no retry either: the client already has primary's words
    assert stack.metric("switchboard_requests_total", endpoint="primary", code="502") == 1
    assert stack.metric("switchboard_fallbacks_total") == 0
    assert stack.metric("switchboard_attempts_total", endpoint="primary", outcome="midstream-failure") == 1
    assert stack.metric("switchboard_attempts_total", endpoint="primary", outcome="success") == 0


def test_stream_that_ends_without_done_ends_with_an_error_event(make_stack, fake_upstream) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["no-done"],
        ["backup"],
        endpoint_specs={"no-done": {"url": fake_upstream.url}},
    )
    stack = make_stack({"backup": {}}, documents)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stack.openai().chat.completions.create(model=ROUTE, messages=HELLO, stream=True):
            received.append(chunk)
    assert "after the stream started" in caught.value.message
    assert [c.choices[0].delta.content for c in received] == ["Hello", " there"]
    assert sim_requests(stack.sim_stats(), "backup") == 0


def test_stream_stalling_midway_is_ended_by_the_attempt_total_timeout(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"timeouts": {"firstTokenMs": 500, "totalMs": 1000}},
    )
    # One token per second: the first arrives at once, the 16th would take 15 s.
    stack = make_stack({"primary": {"tokens_per_second": 1.0}, "backup": {}}, documents)
    started = time.monotonic()
    with pytest.raises(openai.APIError, match="deadline exceeded after the stream started"):
        for _ in stack.openai().chat.completions.create(model=ROUTE, messages=HELLO, stream=True):
            pass
    assert 0.9 < time.monotonic() - started < 3.0
    assert sim_requests(stack.sim_stats(), "backup") == 0


def _anthropic_documents(sim_url: str) -> list[dict]:
    return chain_documents(
        sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 0}, "timeouts": STREAM_TIMEOUTS},
        endpoint_specs={"primary": {"provider": "anthropic"}, "backup": {"provider": "anthropic"}},
    )


@pytest.mark.parametrize(
    "profile",
    [{"fault": "error-503"}, {"fault": "hang"}, {"ttft_ms": 5000}],
    ids=["503", "hang", "slow-first-token"],
)
def test_anthropic_stream_fails_over_before_the_first_byte(make_stack, profile) -> None:
    stack = make_stack({"primary": profile, "backup": {}}, _anthropic_documents(make_stack.sim_url))
    with stack.anthropic().messages.stream(model=ROUTE, max_tokens=64, messages=HELLO) as events:
        text = "".join(events.text_stream)
        final = events.get_final_message()
    assert text and final.model == "backup" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 16
    assert stack.metric("switchboard_fallbacks_total", from_endpoint="primary", to_endpoint="backup") == 1
    assert stack.metric("switchboard_tokens_total", endpoint="backup", kind="completion") == 16


def test_anthropic_stream_failing_midway_ends_with_an_error_event(make_stack) -> None:
    profile = {"fault": "midstream-fail", "fail_after_chunks": 3}
    stack = make_stack({"primary": profile, "backup": {}}, _anthropic_documents(make_stack.sim_url))
    text = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        stack.anthropic().messages.stream(model=ROUTE, max_tokens=64, messages=HELLO) as events,
    ):
        text.extend(events.text_stream)
    assert "after the stream started" in str(caught.value)
    assert len(text) == 3
    assert sim_requests(stack.sim_stats(), "backup") == 0


def test_stream_without_include_usage_gets_no_usage_but_is_costed(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url, ["primary"], endpoint_specs={"primary": {"pricing": PRICING}}
    )
    stack = make_stack({"primary": {"output_tokens": 10}}, documents)
    with stack.openai().chat.completions.with_streaming_response.create(
        model=ROUTE, messages=HELLO, stream=True
    ) as response:
        raw = response.read()
    assert b"data: [DONE]" in raw
    assert b'"usage"' not in raw  # neither the usage chunk nor the `"usage":null` markers asked for upstream
    upstream = stack.sim_requests("primary", limit=1)[0]["body"]
    assert upstream["stream_options"] == {"include_usage": True}
    prompt = stack.metric("switchboard_tokens_total", endpoint="primary", kind="prompt")
    completion = stack.metric("switchboard_tokens_total", endpoint="primary", kind="completion")
    assert prompt > 0 and completion == 10
    cost = stack.metric("switchboard_cost_usd_total", route=ROUTE, endpoint="primary")
    assert cost == pytest.approx((prompt * 2.0 + completion * 4.0) / 1e6)


def test_stream_with_include_usage_gets_the_usage_chunk(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url, ["primary"], endpoint_specs={"primary": {"pricing": PRICING}}
    )
    stack = make_stack({"primary": {"output_tokens": 10}}, documents)
    chunks = list(
        stack.openai().chat.completions.create(
            model=ROUTE, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and not chunks[-1].choices
    assert usage_chunks[0].usage.completion_tokens == 10
    prompt = usage_chunks[0].usage.prompt_tokens
    assert stack.metric("switchboard_cost_usd_total", endpoint="primary") == pytest.approx(
        (prompt * 2.0 + 10 * 4.0) / 1e6
    )


def _wait_until_idle(stack, model: str, *, timeout: float = 1.5) -> None:
    started = time.monotonic()
    while stack.sim_stats()[model]["inflight"]:
        assert time.monotonic() - started < timeout, f"{model} still has requests in flight"
        time.sleep(0.02)


@pytest.mark.parametrize("leave_after_chunks", [0, 2], ids=["before-first-byte", "midstream"])
def test_client_leaving_cancels_the_upstream_and_spares_the_circuit(make_stack, leave_after_chunks) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"circuitBreaker": {"consecutiveFailures": 1}, "timeouts": {"firstTokenMs": 5000}},
    )
    slow = {"ttft_ms": 2000} if leave_after_chunks == 0 else {"tokens_per_second": 4.0}
    stack = make_stack({"primary": slow, "backup": {}}, documents)
    if leave_after_chunks == 0:
        with pytest.raises(openai.APITimeoutError):
            stack.openai(timeout=0.3).chat.completions.create(model=ROUTE, messages=HELLO, stream=True)
    else:
        stream = stack.openai().chat.completions.create(model=ROUTE, messages=HELLO, stream=True)
        for _, _chunk in zip(range(leave_after_chunks), stream, strict=False):
            pass
        stream.close()
    _wait_until_idle(stack, "primary")
    assert stack.sim_stats()["primary"]["outcomes"] == {"client-disconnected": 1}
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0
    assert stack.metric("switchboard_requests_total", code="499") == 1
    stack.fault("primary", ttft_ms=0, tokens_per_second=0.0)
    assert stack.openai().chat.completions.create(model=ROUTE, messages=HELLO).model == "primary"
    assert sim_requests(stack.sim_stats(), "backup") == 0
