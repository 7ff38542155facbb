"""Retries of the same endpoint: served on the retry, backoff honouring a short Retry-After, a Retry-After
past the deadline skipped in favour of the next endpoint, and the retry budget capping amplification."""

from __future__ import annotations

import time

import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

pytestmark = pytest.mark.integration


def test_transient_failure_is_served_by_the_retry(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 1, "backoffMs": 10}},
    )
    stack = make_stack({"primary": {"fault": "error-503", "fail_count": 1}, "backup": {}}, documents)
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    assert raw.parse().model == "primary"
    assert raw.headers["x-switchboard-endpoint"] == "primary"
    assert raw.headers["x-switchboard-attempts"] == "2"
    assert "x-switchboard-fallback-reason" not in raw.headers
    stats = stack.sim_stats()
    assert stats["primary"]["outcomes"] == {"error-503": 1, "ok": 1}
    assert sim_requests(stats, "backup") == 0
    assert stack.metric("switchboard_fallbacks_total") == 0


def test_backoff_honours_a_short_retry_after(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 1, "backoffMs": 10, "maxBackoffMs": 20}},
    )
    profile = {"fault": "rate-limited", "fail_count": 1, "retry_after_s": 1}
    stack = make_stack({"primary": profile, "backup": {}}, documents)
    started = time.monotonic()
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    elapsed = time.monotonic() - started
    assert raw.parse().model == "primary" and raw.headers["x-switchboard-attempts"] == "2"
    # The policy's own backoff is at most 20 ms: the second try waited for the upstream's Retry-After.
    assert 1.0 <= elapsed < 3.0
    retry, first = stack.sim_requests("primary", limit=2)[::-1]
    assert retry["time"] - first["time"] >= 0.99


def test_retry_after_past_the_deadline_fails_over_at_once(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 1, "backoffMs": 10}},
        route_spec={"deadlineMs": 3000},
    )
    profile = {"fault": "rate-limited", "retry_after_s": 30}
    stack = make_stack({"primary": profile, "backup": {}}, documents)
    started = time.monotonic()
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    elapsed = time.monotonic() - started
    assert raw.parse().model == "backup"
    assert raw.headers["x-switchboard-fallback-reason"] == "rate-limited"
    assert elapsed < 1.5  # no waiting for a retry that could not happen inside the deadline
    assert sim_requests(stack.sim_stats(), "primary") == 1
    assert (
        stack.metric(
            "switchboard_attempts_total", endpoint="primary", outcome="skipped:backoff-past-deadline"
        )
        == 1
    )


def test_retry_budget_caps_retries_of_an_always_failing_endpoint(make_stack) -> None:
    requests, retries, percent = 60, 3, 10
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        policy_spec={
            "retries": {"attempts": retries, "backoffMs": 1, "maxBackoffMs": 2, "budgetPercent": percent},
            # The circuit must stay closed here: only the budget may limit the retries.
            "circuitBreaker": {"consecutiveFailures": 1000},
        },
    )
    stack = make_stack({"primary": {"fault": "error-503"}}, documents)
    for _ in range(requests):
        reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO})
        assert reply.status == 503
    upstream = sim_requests(stack.sim_stats(), "primary")
    # RetryBudget: percent of the requests of the last 10 s, plus a floor of 1 retry/s over that window.
    allowed_retries = requests * percent // 100 + 10
    assert requests < upstream <= requests + allowed_retries
    assert upstream < requests * (1 + retries) / 2  # without a budget it would be 4x
    skipped = stack.metric("switchboard_attempts_total", endpoint="primary", outcome="skipped:retry-budget")
    assert skipped >= requests - allowed_retries


@pytest.mark.parametrize("retries", [0, 2])
def test_the_http_client_never_retries_on_its_own(make_stack, retries: int) -> None:
    """A connection reset on a POST is exactly one upstream request per planned attempt: the executor's
    loop is the only retry loop."""
    documents = chain_documents(
        make_stack.sim_url, ["primary"], policy_spec={"retries": {"attempts": retries, "backoffMs": 1}}
    )
    stack = make_stack({"primary": {"fault": "reset"}}, documents)
    reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO})
    assert reply.status >= 500
    assert sim_requests(stack.sim_stats(), "primary") == 1 + retries
    assert reply.header("X-Switchboard-Attempts") == str(1 + retries)
