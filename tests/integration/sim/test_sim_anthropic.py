"""switchboard-sim's Anthropic Messages API, driven by the official anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from sim_client import API_KEY, Sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

MESSAGES: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Say something."}]
SYSTEM = "You are terse."
# 14 + 14 characters of text (system + messages) -> ceil(28 / 4) input tokens.
INPUT_TOKENS = 7


def test_message(sim: Sim) -> None:
    message = sim.anthropic().messages.create(model="chat", max_tokens=100, system=SYSTEM, messages=MESSAGES)
    assert message.model == "chat"
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text.split()[:3] == ["alpha", "bravo", "charlie"]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (INPUT_TOKENS, 16)


def test_max_tokens_stops_with_max_tokens(sim: Sim) -> None:
    message = sim.anthropic().messages.create(model="chat", max_tokens=2, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == "alpha bravo"
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 2


def test_streamed_message(sim: Sim) -> None:
    with sim.anthropic().messages.stream(
        model="chat", max_tokens=5, system=SYSTEM, messages=MESSAGES
    ) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert deltas == ["alpha", " bravo", " charlie", " delta", " echo"]
    assert final.content[0].type == "text" and final.content[0].text == "alpha bravo charlie delta echo"
    assert final.stop_reason == "max_tokens"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (INPUT_TOKENS, 5)


def test_streamed_event_sequence(sim: Sim) -> None:
    stream = sim.anthropic().messages.create(model="chat", max_tokens=2, messages=MESSAGES, stream=True)
    types = [event.type for event in stream]
    assert types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ], "ping is sent too; the SDK skips it"


def test_overloaded_is_529(sim: Sim) -> None:
    sim.put_model("chat", fault="overloaded", retry_after_s=3)
    with pytest.raises(anthropic.OverloadedError) as caught:
        sim.anthropic().messages.create(model="chat", max_tokens=10, messages=MESSAGES)
    assert caught.value.status_code == 529
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"
    assert caught.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("fault", "error_class", "error_type"),
    [
        pytest.param("error-500", anthropic.InternalServerError, "api_error", id="500"),
        pytest.param("rate-limited", anthropic.RateLimitError, "rate_limit_error", id="429"),
        pytest.param("context-length", anthropic.BadRequestError, "invalid_request_error", id="context"),
    ],
)
def test_faults_use_the_anthropic_error_shape(
    sim: Sim, fault: str, error_class: type[anthropic.APIStatusError], error_type: str
) -> None:
    sim.put_model("chat", fault=fault)
    with pytest.raises(error_class) as caught:
        sim.anthropic().messages.create(model="chat", max_tokens=10, messages=MESSAGES)
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == error_type


def test_prompt_too_long(sim: Sim) -> None:
    sim.put_model("chat", context_window=50)
    with pytest.raises(anthropic.BadRequestError) as caught:
        sim.anthropic().messages.create(
            model="chat", max_tokens=10, messages=[{"role": "user", "content": "y" * 200}]
        )
    assert "prompt is too long" in str(caught.value)


def test_first_event_error_raises_from_the_stream(sim: Sim) -> None:
    sim.put_model("chat", fault="first-event-error")
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        sim.anthropic().messages.stream(model="chat", max_tokens=5, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()
    assert "overloaded_error" in str(caught.value)


def test_api_key_is_checked(sim: Sim) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        sim.anthropic(api_key="wrong").messages.create(model="keyed", max_tokens=5, messages=MESSAGES)
    assert (
        isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "authentication_error"
    )
    # This SDK version sends the key as a bearer token; the real API's x-api-key works too.
    message = sim.anthropic(api_key=API_KEY).messages.create(model="keyed", max_tokens=5, messages=MESSAGES)
    assert message.model == "keyed"
    assert "anthropic-version" in sim.requests(model="keyed")[-1]["headers"]
    body = {"model": "keyed", "max_tokens": 5, "messages": MESSAGES}
    assert sim.call("POST", "/v1/messages", body=body, headers={"x-api-key": API_KEY})[0] == 200
    assert sim.call("POST", "/v1/messages", body=body, headers={"x-api-key": "wrong"})[0] == 401
    assert sim.requests(model="keyed")[-1]["headers"]["x-api-key"] == "[REDACTED]"


def test_unknown_model_and_missing_max_tokens(sim: Sim) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        sim.anthropic().messages.create(model="nope", max_tokens=5, messages=MESSAGES)
    assert isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "not_found_error"
    status, body = sim.call("POST", "/v1/messages", body={"model": "chat", "messages": MESSAGES})
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_midstream_fail_breaks_the_stream_after_some_deltas(sim: Sim) -> None:
    sim.put_model("chat", fault="midstream-fail", fail_after_chunks=2)
    received: list[str] = []
    # This anthropic SDK lets the transport's error through while iterating instead of wrapping it.
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)),
        sim.anthropic().messages.stream(model="chat", max_tokens=10, messages=MESSAGES) as stream,
    ):
        for text in stream.text_stream:
            received.append(text)
    assert received == ["alpha", " bravo"]
