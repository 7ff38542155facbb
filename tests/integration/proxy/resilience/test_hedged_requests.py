"""Hedging: a slow first attempt gets a second one after hedge.afterMs; the first servable answer wins and
the loser is cancelled upstream; a fast first attempt never hedges."""

from __future__ import annotations

import time

import openai
import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

pytestmark = pytest.mark.integration

HEDGE_POLICY = {
    "retries": {"attempts": 0},
    "hedge": {"afterMs": 500},
    "timeouts": {"firstTokenMs": 5000, "totalMs": 10000},
}
# Fast answers and fast failures must come before the hedge even on a loaded box.
LATE_HEDGE_POLICY = {**HEDGE_POLICY, "hedge": {"afterMs": 1500}}
SLOW_MS = 3000


def _wait_until_idle(stack, model: str, *, timeout: float = 2.0) -> float:
    """Seconds until the sim has no request of `model` in flight (fails after `timeout`)."""
    started = time.monotonic()
    while stack.sim_stats()[model]["inflight"]:
        assert time.monotonic() - started < timeout, f"{model} still has requests in flight"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_slow_primary_is_hedged_and_the_loser_cancelled(make_stack, stream: bool) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=HEDGE_POLICY)
    stack = make_stack({"primary": {"ttft_ms": SLOW_MS}, "backup": {}}, documents)
    started = time.monotonic()
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO, stream=stream)
    models = {c.model for c in raw.parse()} if stream else {raw.parse().model}
    elapsed = time.monotonic() - started
    assert models == {"backup"}
    assert 0.5 <= elapsed < 2.0  # hedge after 500 ms, far before primary's 3 s
    assert raw.headers["x-switchboard-endpoint"] == "backup"
    assert raw.headers["x-switchboard-fallback-reason"] == "hedge-lost"
    assert raw.headers["x-switchboard-attempts"] == "2"
    _wait_until_idle(stack, "primary")
    stats = stack.sim_stats()
    assert sim_requests(stats, "primary") == sim_requests(stats, "backup") == 1
    assert stats["primary"]["outcomes"] == {"client-disconnected": 1}
    assert stack.metric("switchboard_inflight", endpoint="primary") == 0
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0  # losing is not a failure


def test_fast_primary_is_never_hedged(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=LATE_HEDGE_POLICY)
    stack = make_stack({"primary": {"ttft_ms": 20}, "backup": {}}, documents)
    client = stack.openai()
    for stream in (False, True) * 3:
        response = client.chat.completions.create(model=ROUTE, messages=HELLO, stream=stream)
        assert ({c.model for c in response} if stream else {response.model}) == {"primary"}
    assert sim_requests(stack.sim_stats(), "backup") == 0


def test_primary_failing_fast_starts_the_hedge_at_once(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=LATE_HEDGE_POLICY)
    stack = make_stack({"primary": {"fault": "error-500"}, "backup": {}}, documents)
    started = time.monotonic()
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    assert raw.parse().model == "backup" and time.monotonic() - started < 1.0  # not after hedge.afterMs
    assert raw.headers["x-switchboard-fallback-reason"] == "server-error"


def test_client_error_within_the_hedge_delay_does_not_start_the_hedge(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec=LATE_HEDGE_POLICY,
        endpoint_specs={"primary": {"provider": "anthropic"}, "backup": {"provider": "anthropic"}},
    )
    stack = make_stack({"primary": {}, "backup": {}}, documents)
    reply = stack.post("/v1/messages", {"model": ROUTE, "messages": HELLO})  # no max_tokens: a 400 upstream
    assert reply.status == 400
    time.sleep(0.3)  # a hedge started on the 400 would have reached the sim by now
    assert sim_requests(stack.sim_stats(), "backup") == 0


def test_client_leaving_during_the_hedge_delay_cancels_the_attempt(make_stack) -> None:
    policy = {**HEDGE_POLICY, "hedge": {"afterMs": 1000}}  # the client leaves at 300 ms, before the hedge
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=policy)
    stack = make_stack({"primary": {"ttft_ms": SLOW_MS}, "backup": {}}, documents)
    for stream in (False, True):
        with pytest.raises(openai.APITimeoutError):
            stack.openai(timeout=0.3).chat.completions.create(model=ROUTE, messages=HELLO, stream=stream)
        assert _wait_until_idle(stack, "primary", timeout=1.0) < 1.0  # not after its 3 s answer
    time.sleep(1.0)  # past hedge.afterMs: no hedge starts for a client that left
    assert sim_requests(stack.sim_stats(), "backup") == 0
    assert stack.metric("switchboard_inflight", endpoint="primary") == 0
