"""One deadline for the whole call: every attempt is clipped to it, the chain never outlasts it, and
running out of it answers 504 (degraded mode error) or the static degraded answer."""

from __future__ import annotations

import time

import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

pytestmark = pytest.mark.integration

# Slack for the noisy 2-core box: process scheduling, the sim, the SDK and the proxy share two cores.
MARGIN_S = 0.4


def _timed_post(stack, body: dict, deadline_ms: int):
    started = time.monotonic()
    reply = stack.post("/v1/chat/completions", body, headers={"X-Switchboard-Deadline-Ms": str(deadline_ms)})
    return reply, time.monotonic() - started


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_deadline_shorter_than_the_primary_answers_504(make_stack, stream: bool) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], policy_spec={"degraded": {"mode": "error"}})
    stack = make_stack({"primary": {"ttft_ms": 3000}}, documents)
    reply, elapsed = _timed_post(stack, {"model": ROUTE, "messages": HELLO, "stream": stream}, 400)
    assert reply.status == 504, reply.body
    assert reply.json()["error"]["code"] == "deadline_exceeded"
    assert 0.4 <= elapsed < 0.4 + MARGIN_S


def test_deadline_shorter_than_the_primary_answers_the_static_degraded_body(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], policy_spec={"degraded": {"mode": "static"}})
    stack = make_stack({"primary": {"ttft_ms": 3000}}, documents)
    reply, elapsed = _timed_post(stack, {"model": ROUTE, "messages": HELLO}, 400)
    assert reply.status == 200 and reply.header("X-Switchboard-Degraded") == "true"
    assert reply.json()["choices"][0]["message"]["content"] == ""
    assert 0.4 <= elapsed < 0.4 + MARGIN_S


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_whole_chain_stays_inside_one_deadline(make_stack, stream: bool) -> None:
    policy = {
        "retries": {"attempts": 1, "backoffMs": 10},
        "timeouts": {"connectMs": 200, "firstTokenMs": 400, "totalMs": 400},
        "degraded": {"mode": "error"},
    }
    documents = chain_documents(make_stack.sim_url, ["one"], ["two", "three"], policy_spec=policy)
    hang = {"fault": "hang"}
    stack = make_stack({"one": hang, "two": hang, "three": hang}, documents)
    reply, elapsed = _timed_post(stack, {"model": ROUTE, "messages": HELLO, "stream": stream}, 600)
    assert reply.status == 504
    # 400 ms, then what is left of 600 ms, then nothing: not 3 x 400 ms (no retries after timeouts either).
    assert 0.6 <= elapsed < 0.6 + MARGIN_S < 1.2
    stats = stack.sim_stats()
    assert [sim_requests(stats, m) for m in ("one", "two", "three")] == [1, 1, 0]


def test_endpoint_too_slow_for_the_deadline_is_skipped(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"])
    stack = make_stack({"primary": {"ttft_ms": 600}, "backup": {}}, documents)
    for _ in range(2):  # teach the sidecar primary's latency
        assert stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO}).status == 200
    reply, _ = _timed_post(stack, {"model": ROUTE, "messages": HELLO}, 300)
    assert reply.status == 200 and reply.json()["model"] == "backup"
    assert reply.header("X-Switchboard-Fallback-Reason") == "deadline"
    assert sim_requests(stack.sim_stats(), "primary") == 2  # skipped, not tried and cut at 300 ms
