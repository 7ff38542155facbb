"""Circuit breaker per endpoint: opens after consecutive failures, skips the endpoint without calling it,
lets exactly one probe through when half-open, closes on its success and reopens on its failure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

from support.waiting import wait_until

pytestmark = pytest.mark.integration

OPEN_SECONDS = 1.0
POLICY = {
    "retries": {"attempts": 0},
    "circuitBreaker": {"consecutiveFailures": 3, "openSeconds": OPEN_SECONDS},
}


def _served_by(stack) -> tuple[str, str]:
    reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO})
    assert reply.status == 200, reply.body
    return reply.header("X-Switchboard-Endpoint") or "", reply.header("X-Switchboard-Fallback-Reason") or ""


def _open_primary(stack) -> None:
    for _ in range(3):
        assert _served_by(stack) == ("backup", "server-error")


def _wait_half_open(stack) -> None:
    """Until the sidecar says the primary's open period is over (a probe may go through now)."""
    wait_until(
        lambda: stack.get("/switchboard/endpoints").json()["endpoints"]["primary"]["circuit"] == "half-open",
        timeout=OPEN_SECONDS + 5,
        interval=0.05,
        what="the primary's circuit to turn half-open",
    )
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 1
    assert stack.metric("switchboard_circuit_open", endpoint="backup") == 0


def test_circuit_opens_after_consecutive_failures_and_skips_the_endpoint(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=POLICY)
    stack = make_stack({"primary": {"fault": "error-500"}, "backup": {}}, documents)
    _open_primary(stack)
    for _ in range(5):
        assert _served_by(stack) == ("backup", "circuit-open")
    assert sim_requests(stack.sim_stats(), "primary") == 3  # not called while open
    assert stack.get("/switchboard/endpoints").status == 200


def test_half_open_probe_failure_reopens_and_success_closes(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=POLICY)
    stack = make_stack({"primary": {"fault": "error-500"}, "backup": {}}, documents)
    _open_primary(stack)
    _wait_half_open(stack)
    assert _served_by(stack) == ("backup", "server-error")  # the probe went to primary and failed
    assert sim_requests(stack.sim_stats(), "primary") == 4
    assert _served_by(stack) == ("backup", "circuit-open")  # open again for a full period
    assert sim_requests(stack.sim_stats(), "primary") == 4
    stack.fault("primary", fault="none")  # (heal would delete a model created at runtime)
    _wait_half_open(stack)
    assert _served_by(stack) == ("primary", "")  # the probe succeeded
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0
    assert [_served_by(stack) for _ in range(3)] == [("primary", "")] * 3
    assert sim_requests(stack.sim_stats(), "primary") == 8


def test_half_open_lets_exactly_one_probe_through(make_stack) -> None:
    documents = chain_documents(make_stack.sim_url, ["primary"], ["backup"], policy_spec=POLICY)
    stack = make_stack({"primary": {"fault": "error-500"}, "backup": {}}, documents)
    _open_primary(stack)
    stack.fault("primary", fault="none", ttft_ms=800)  # healthy again, but slow: the probe stays in flight
    _wait_half_open(stack)
    with ThreadPoolExecutor(6) as pool:
        served = list(pool.map(lambda _: _served_by(stack), range(6)))
    assert sorted(served).count(("primary", "")) == 1
    assert sorted(served).count(("backup", "circuit-open")) == 5
    assert sim_requests(stack.sim_stats(), "primary") == 4
    assert stack.metric("switchboard_circuit_open", endpoint="primary") == 0
