"""switchboard-sim's `/sim/*` control API: runtime profile changes, statistics, the request log, pacing."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest
from sim_client import API_KEY, Sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def test_models_are_listed_with_keys_redacted(sim: Sim) -> None:
    status, body = sim.call("GET", "/sim/models")
    assert status == 200
    assert list(body["models"]) == ["chat", "keyed", "pinned", "azure-dep"]
    assert body["models"]["chat"]["output_tokens"] == 16
    assert body["models"]["keyed"]["api_key"] == "[REDACTED]"
    assert API_KEY not in json.dumps(body)


def test_switch_a_model_to_failing_and_back(sim: Sim) -> None:
    client = sim.openai()
    changed = sim.put_model("chat", fault="error-503")
    assert changed["profile"]["fault"] == "error-503"
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="chat", messages=MESSAGES)
    status, body = sim.call("DELETE", "/sim/models/chat")
    assert status == 200 and body["profile"]["fault"] == "none"
    assert client.chat.completions.create(model="chat", messages=MESSAGES).model == "chat"


def test_put_merges_fields_and_keeps_the_others(sim: Sim) -> None:
    sim.put_model("chat", output_tokens=3)
    sim.put_model("chat", served_model="gpt-sim")
    response = sim.openai().chat.completions.create(model="chat", messages=MESSAGES)
    assert response.model == "gpt-sim"
    assert response.choices[0].message.content == "alpha bravo charlie"


def test_put_creates_a_model_and_delete_removes_it(sim: Sim) -> None:
    sim.put_model("fresh", output_tokens=2)
    response = sim.openai().chat.completions.create(model="fresh", messages=MESSAGES)
    assert response.choices[0].message.content == "alpha bravo"
    assert sim.call("DELETE", "/sim/models/fresh")[0] == 200
    with pytest.raises(openai.NotFoundError):
        sim.openai().chat.completions.create(model="fresh", messages=MESSAGES)
    assert sim.call("DELETE", "/sim/models/fresh")[0] == 404


def test_put_rejects_bad_fields_by_name_and_changes_nothing(sim: Sim) -> None:
    bad = {"ttft_ms": -5, "fault": "explode", "output_tokens": 3}
    status, body = sim.call("PUT", "/sim/models/chat", body=bad)
    assert status == 400
    assert body["error"]["code"] == "invalid_profile"
    assert {p["field"] for p in body["error"]["problems"]} == {"ttft_ms", "fault"}
    assert "ttft_ms" in body["error"]["message"] and "explode" in body["error"]["message"]
    assert sim.call("GET", "/sim/models")[1]["models"]["chat"]["output_tokens"] == 16
    status, body = sim.call("PUT", "/sim/models/chat", body=["not", "an", "object"])
    assert status == 400


def test_request_log_shows_what_was_sent_with_keys_redacted(sim: Sim) -> None:
    client = sim.openai(api_key=API_KEY)
    stream = client.chat.completions.create(
        model="keyed",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"X-Request-Id": "req-42"},
    )
    list(stream)
    [entry] = sim.requests(model="keyed")
    assert (entry["method"], entry["path"], entry["model"], entry["stream"]) == (
        "POST",
        "/v1/chat/completions",
        "keyed",
        True,
    )
    assert entry["body"]["stream_options"] == {"include_usage": True}
    assert entry["headers"]["authorization"] == "[REDACTED]"
    assert entry["headers"]["x-request-id"] == "req-42"
    assert API_KEY not in json.dumps(sim.call("GET", "/sim/requests"))


def test_request_log_filter_and_limit(sim: Sim) -> None:
    client = sim.openai()
    for model in ("chat", "azure-dep", "chat"):
        client.chat.completions.create(model=model, messages=MESSAGES)
    assert [e["model"] for e in sim.requests()] == ["chat", "azure-dep", "chat"]
    assert [e["model"] for e in sim.requests(limit=1)] == ["chat"]
    assert len(sim.requests(model="chat")) == 2
    assert sim.call("GET", "/sim/requests?limit=many")[0] == 400


def test_reset_restores_profiles_and_zeroes_stats(sim: Sim) -> None:
    sim.put_model("chat", fault="error-500")
    with pytest.raises(openai.InternalServerError):
        sim.openai().chat.completions.create(model="chat", messages=MESSAGES)
    assert sim.stats("chat")["requests"] == 1
    assert sim.call("POST", "/sim/reset")[0] == 200
    assert sim.stats("chat") == {
        "requests": 0,
        "outcomes": {},
        "inflight": 0,
        "max_inflight": 0,
        "max_generating": 0,
        "max_in_window": 0,
        "window_s": 60.0,
        "remaining_faults": 0,
    }
    assert sim.requests() == []
    assert sim.openai().chat.completions.create(model="chat", messages=MESSAGES).model == "chat"


def test_max_inflight_counts_concurrent_requests(sim: Sim) -> None:
    sim.put_model("chat", ttft_ms=400)
    client = sim.openai()
    threads = [
        threading.Thread(
            target=client.chat.completions.create, kwargs={"model": "chat", "messages": MESSAGES}
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    stats = sim.stats("chat")
    assert (stats["requests"], stats["max_inflight"], stats["inflight"]) == (4, 4, 0)
    assert stats["outcomes"] == {"ok": 4}


def timed(call: object) -> float:
    assert callable(call)
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_ttft_delays_the_response_and_the_first_chunk(sim: Sim) -> None:
    client = sim.openai()
    fast = timed(lambda: client.chat.completions.create(model="chat", messages=MESSAGES))
    sim.put_model("chat", ttft_ms=400)
    slow = timed(lambda: client.chat.completions.create(model="chat", messages=MESSAGES))
    assert fast < 0.3 and slow >= 0.39, (fast, slow)
    started = time.monotonic()
    stream = client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
    first_content = next(chunk for chunk in stream if chunk.choices[0].delta.content)
    first_token_s = time.monotonic() - started
    assert first_content.choices[0].delta.content == "alpha"
    assert first_token_s >= 0.39
    list(stream)


def test_tokens_per_second_paces_the_output(sim: Sim) -> None:
    # 21 tokens at 50/s: the last arrives 20 / 50 = 0.4 s after the first.
    sim.put_model("chat", output_tokens=21, tokens_per_second=50)
    client = sim.openai()
    assert timed(lambda: client.chat.completions.create(model="chat", messages=MESSAGES)) >= 0.39
    arrivals = [
        time.monotonic()
        for chunk in client.chat.completions.create(model="chat", messages=MESSAGES, stream=True)
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert len(arrivals) == 21
    assert 0.35 <= arrivals[-1] - arrivals[0] < 3.0
    sim.put_model("chat", tokens_per_second=0)
    assert timed(lambda: client.chat.completions.create(model="chat", messages=MESSAGES)) < 0.3


def test_healthz(sim: Sim) -> None:
    assert sim.call("GET", "/healthz") == (200, {"status": "ok"})
