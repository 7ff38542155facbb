"""switchboard-sim's fault profiles as the official openai SDK sees them, and fault budgets and rates."""

from __future__ import annotations

import time

import openai
import pytest
from sim_client import Sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def chat(sim: Sim, *, timeout: float = 10.0) -> openai.types.chat.ChatCompletion:
    response: openai.types.chat.ChatCompletion = sim.openai(timeout=timeout).chat.completions.create(
        model="chat", messages=MESSAGES
    )
    return response


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        pytest.param("error-500", 500, None, id="500"),
        pytest.param("error-503", 503, "service_unavailable", id="503"),
        pytest.param("overloaded", 503, "overloaded", id="overloaded-is-503-on-openai"),
    ],
)
def test_server_errors(sim: Sim, fault: str, status: int, code: str | None) -> None:
    sim.put_model("chat", fault=fault)
    with pytest.raises(openai.InternalServerError) as caught:
        chat(sim)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert caught.value.type == "server_error"


def test_rate_limited_has_retry_after(sim: Sim) -> None:
    sim.put_model("chat", fault="rate-limited", retry_after_s=7)
    with pytest.raises(openai.RateLimitError) as caught:
        chat(sim)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"


def test_reset_is_a_connection_error(sim: Sim) -> None:
    sim.put_model("chat", fault="reset")
    with pytest.raises(openai.APIConnectionError) as caught:
        chat(sim)
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert sim.stats("chat")["outcomes"] == {"reset": 1}


def test_hang_times_out_and_is_cancelled_when_the_client_leaves(sim: Sim) -> None:
    sim.put_model("chat", fault="hang")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        chat(sim, timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    # The client is gone: the sim must stop working on the request, not keep it in flight forever.
    deadline = time.monotonic() + 3
    while sim.stats("chat")["inflight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sim.stats("chat")
    assert (stats["inflight"], stats["max_inflight"]) == (0, 1)
    assert stats["outcomes"] == {"hang": 1}


def test_midstream_fail_breaks_the_stream_after_some_chunks(sim: Sim) -> None:
    sim.put_model("chat", fault="midstream-fail", fail_after_chunks=3)
    stream = sim.openai().chat.completions.create(model="chat", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "alpha bravo charlie"


def test_midstream_fail_without_a_stream_resets(sim: Sim) -> None:
    sim.put_model("chat", fault="midstream-fail")
    with pytest.raises(openai.APIConnectionError):
        chat(sim)


def test_first_event_error_is_raised_by_the_sdk(sim: Sim) -> None:
    sim.put_model("chat", fault="first-event-error")
    stream = sim.openai().chat.completions.create(model="chat", messages=MESSAGES, stream=True)
    assert stream.response.status_code == 200, "the error arrives inside a 200 stream"
    with pytest.raises(openai.APIError) as caught:
        next(iter(stream))
    assert caught.value.message == "Simulated error event."
    # Without a stream: a 200 whose JSON body is an error object.
    status, body = sim.call("POST", "/v1/chat/completions", body={"model": "chat", "messages": MESSAGES})
    assert status == 200 and body["error"]["message"] == "Simulated error event."


def test_context_length_fault(sim: Sim) -> None:
    sim.put_model("chat", fault="context-length")
    with pytest.raises(openai.BadRequestError) as caught:
        chat(sim)
    assert caught.value.code == "context_length_exceeded"


def test_fail_count_fails_the_next_n_requests_then_heals(sim: Sim) -> None:
    sim.put_model("chat", fault="error-503", fail_count=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            chat(sim)
    assert chat(sim).model == "chat"
    assert chat(sim).model == "chat"
    stats = sim.stats("chat")
    assert stats["outcomes"] == {"error-503": 2, "ok": 2}
    assert stats["requests"] == 4


def test_error_rate_is_roughly_honoured_and_reproducible(sim: Sim) -> None:
    def failures() -> list[bool]:
        sim.put_model("chat", fault="error-500", error_rate=0.25, seed=11)
        outcomes = []
        client = sim.openai()
        for _ in range(80):
            try:
                client.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=1)
                outcomes.append(False)
            except openai.InternalServerError:
                outcomes.append(True)
        return outcomes

    first = failures()
    assert 8 <= sum(first) <= 35, f"about 25% of 80, got {sum(first)}"
    assert sim.stats("chat")["outcomes"] == {"error-500": sum(first), "ok": 80 - sum(first)}
    assert failures() == first, "the same seed gives the same sequence"


def test_faults_are_per_model(sim: Sim) -> None:
    sim.put_model("chat", fault="error-500")
    response = sim.openai().chat.completions.create(model="azure-dep", messages=MESSAGES)
    assert response.model == "azure-dep"
