"""`execute()`: the walk over a plan and the verdict it comes to, against a real loopback upstream whose
behaviour is keyed by model name, on looptime's fake clock (nothing waits on the wall clock).

Every config is compiled from resources like the sidecar's, planned by the real planner, and executed with
the real HTTP clients; only the upstream is fake (tests/support/fake_upstream.py).
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from support.builders import endpoint, policy, resources, route
from switchboard_proxy.config import compile
from switchboard_proxy.execution.attempts import Clients
from switchboard_proxy.execution.classify import Failure
from switchboard_proxy.execution.executor import execute
from switchboard_proxy.execution.leasing import Gate, Lease
from switchboard_proxy.execution.runtime import Credentials, RoutingTable
from switchboard_proxy.execution.upstreams import Call
from switchboard_proxy.execution.verdicts import (
    DeadlineExceeded,
    Degrade,
    PassThrough,
    ServedJson,
    ServedStream,
    UpstreamError,
    Verdict,
)
from switchboard_proxy.execution.walking import Execution, Walk
from switchboard_proxy.routing import Plan, RouteRequest, plan

pytestmark = pytest.mark.looptime

# `context` refuses the prompt; `ok` has the same window; `large` (the `ok` model) has a larger one.
WINDOWS = {
    "context": {"contextWindow": 8192},
    "ok": {"contextWindow": 8192},
    "large": {"contextWindow": 65536, "model": "ok"},
}
HELLO = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"connectMs": 400, "firstTokenMs": 400, "totalMs": 400}


def build_table(
    url: str,
    pool: Sequence[str],
    chain: Sequence[str] = (),
    *,
    policy_spec: Mapping[str, Any] | None = None,
    endpoint_specs: Mapping[str, Mapping[str, Any]] | None = None,
) -> RoutingTable:
    """Endpoints named after fake models, policy `p` with `chain`, route `r` over `pool`."""
    specs = endpoint_specs or {}
    names = dict.fromkeys([*pool, *chain])
    items = [endpoint(name, url=url, **specs.get(name, {})) for name in names]
    items += [
        policy("p", chain=list(chain), **(policy_spec or {})),
        route("r", list(pool), fallbackPolicy="p"),
    ]
    return RoutingTable.build(compile(resources(*items)), credentials=Credentials(), source="test")


def plan_for(table: RoutingTable, *, stream: bool = False, deadline_ms: int | None = None) -> Plan:
    request = RouteRequest(model="r", stream=stream, deadline_ms=deadline_ms)
    return plan(table.config, request, table.state(), now=datetime.now(UTC), rng=random.Random(0))


async def execute_plan(
    table: RoutingTable,
    clients: Clients,
    decision: Plan,
    *,
    stream: bool = False,
    tokens: int = 0,
) -> Verdict:
    loop = asyncio.get_running_loop()
    call = Call("chat", {**HELLO, "stream": stream}, stream)
    deadline = loop.time() + decision.deadline_ms / 1000
    return await execute(decision, Execution(table, clients, call, deadline, random.Random(0), tokens))


async def run(
    table: RoutingTable,
    clients: Clients,
    *,
    stream: bool = False,
    deadline_ms: int | None = None,
) -> Verdict:
    """Plan and execute one chat call to route `r`; a served stream is closed unread."""
    verdict = await execute_plan(
        table, clients, plan_for(table, stream=stream, deadline_ms=deadline_ms), stream=stream
    )
    if isinstance(verdict, ServedStream):
        verdict.body.close()
    return verdict


def walk(verdict: Verdict) -> list[tuple[str, str]]:
    return [(r.endpoint, r.label) for r in verdict.trail.records]


def served_by(verdict: Verdict) -> str:
    assert isinstance(verdict, ServedJson | ServedStream), verdict
    return verdict.endpoint


async def hold(gate: Gate) -> Lease:
    lease = await gate.admit(priority="critical", deadline=0.0, tokens=0)
    assert isinstance(lease, Lease), lease
    return lease


async def open_circuit(gate: Gate) -> None:
    """What concurrent requests do when they fail: the circuit opens under a plan made while closed."""
    for _ in range(gate.breaker.consecutive_failures):
        with await hold(gate) as lease:
            lease.fail(Failure.SERVER_ERROR)
    assert gate.breaker.state == "open"


async def test_same_endpoint_retries_then_the_chain(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 2, "backoffMs": 1}}
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [("error-500", "server-error")] * 3 + [("ok", "success")]
    assert served_by(verdict) == "ok" and verdict.trail.sent == 4
    assert verdict.trail.fallback_reason == "server-error"


async def test_transient_failure_is_served_by_the_retry(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["flaky"], ["ok"], policy_spec={"retries": {"attempts": 1, "backoffMs": 1}}
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [("flaky", "server-error"), ("flaky", "success")]
    assert upstream.requests["ok"] == 0 and verdict.trail.fallback_reason == ""


async def test_timed_out_endpoint_is_not_retried_while_another_is_left(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["hang"], ["ok"], policy_spec={"timeouts": FAST, "retries": {"attempts": 1}}
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await run(table, clients)
    assert walk(verdict) == [("hang", "timeout"), ("ok", "success")]
    assert upstream.requests["hang"] == 1
    assert loop.time() - started == pytest.approx(0.4, abs=0.02)  # one totalMs, then the chain at once


async def test_timed_out_endpoint_is_retried_when_nothing_else_is_left(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["error-500"],
        ["hang"],
        policy_spec={"timeouts": FAST, "retries": {"attempts": 1, "backoffMs": 1}},
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [("error-500", "server-error")] * 2 + [("hang", "timeout")] * 2
    assert isinstance(verdict, Degrade) and not verdict.static


async def test_context_length_tries_only_larger_windows(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["context"],
        ["ok", "large"],
        policy_spec={"retries": {"attempts": 1}},
        endpoint_specs=WINDOWS,
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [
        ("context", "context-length"),
        ("ok", "skipped:context-window"),
        ("large", "success"),
    ]
    assert table.endpoints["context"].gate.breaker.state == "closed"


async def test_client_error_stops_the_walk_and_spares_the_circuit(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["bad-request"], ["ok"], policy_spec={"circuitBreaker": {"consecutiveFailures": 1}}
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [("bad-request", "client-error")]
    assert isinstance(verdict, PassThrough) and verdict.status == 400 and b"max_tokens" in verdict.body
    assert verdict.endpoint == "bad-request"
    assert table.endpoints["bad-request"].gate.breaker.state == "closed"
    assert upstream.requests["ok"] == 0


async def test_a_failure_outside_the_triggers_stops_the_walk_and_counts(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["error-500"],
        ["ok"],
        policy_spec={"triggers": ["timeout"], "circuitBreaker": {"consecutiveFailures": 1}},
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [("error-500", "server-error")]
    assert isinstance(verdict, UpstreamError) and verdict.failure == Failure.SERVER_ERROR
    assert table.endpoints["error-500"].gate.breaker.state == "open"


async def test_spent_retry_budget_skips_the_retry(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 2, "budgetPercent": 0}}
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [
        ("error-500", "server-error"),
        ("error-500", "skipped:retry-budget"),
        ("ok", "success"),
    ]


async def test_circuit_opened_after_planning_is_skipped_at_send_time(upstream, clients) -> None:
    table = build_table(upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 0}})
    decision = plan_for(table)  # planned while closed; concurrent requests open the circuit meanwhile
    await open_circuit(table.endpoints["error-500"].gate)
    verdict = await execute_plan(table, clients, decision)
    assert walk(verdict) == [("error-500", "skipped:circuit-open"), ("ok", "success")]
    assert upstream.requests["error-500"] == 0
    assert verdict.trail.fallback_reason == "circuit-open"


async def test_full_concurrency_limit_is_skipped_at_send_time(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["slow"],
        ["ok"],
        endpoint_specs={"slow": {"limits": {"maxConcurrency": 1, "maxQueue": 0}}},
    )
    decision = plan_for(table)
    gate = table.endpoints["slow"].gate
    with await hold(gate):  # another request takes the only slot, and there is no queue to wait in
        verdict = await execute_plan(table, clients, decision)
        assert walk(verdict) == [("slow", "skipped:concurrency-limit"), ("ok", "success")]
        assert gate.inflight == 1
    assert gate.inflight == 0


async def test_running_out_of_deadline_is_reported(upstream, clients) -> None:
    table = build_table(upstream.url, ["hang"], policy_spec={"retries": {"attempts": 1, "backoffMs": 1}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await run(table, clients, deadline_ms=200)
    assert loop.time() - started == pytest.approx(0.2, abs=0.01)
    assert walk(verdict) == [("hang", "timeout"), ("hang", "skipped:backoff-past-deadline")]
    assert isinstance(verdict, DeadlineExceeded) and "hang: timeout" in verdict.summary


async def test_all_failing_fast_is_not_a_deadline(upstream, clients) -> None:
    table = build_table(upstream.url, ["error-500"], policy_spec={"retries": {"attempts": 0}})
    verdict = await run(table, clients, deadline_ms=5000)
    assert walk(verdict) == [("error-500", "server-error")]
    assert isinstance(verdict, Degrade) and verdict.trail.fallback_reason == "server-error"


async def test_a_finished_walk_is_freed_without_the_garbage_collector(upstream, clients) -> None:
    """A kept failure must not hold its traceback: its frames reach the walk, whose failures reach them
    (a cycle holding the request body and payload until a full collection, which the sidecar runs rarely)."""
    table = build_table(
        upstream.url,
        ["error-500"],
        ["context", "large"],
        policy_spec={"retries": {"attempts": 1, "backoffMs": 1}},
        endpoint_specs=WINDOWS,
    )
    gc.collect()
    gc.disable()
    try:
        verdict = await run(table, clients)
        assert served_by(verdict) == "large" and verdict.trail.sent == 4
        del verdict
        assert [thing for thing in gc.get_objects() if isinstance(thing, Walk)] == []
    finally:
        gc.enable()


async def test_static_degraded_mode_degrades_even_past_the_deadline(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["hang"], policy_spec={"retries": {"attempts": 0}, "degraded": {"mode": "static"}}
    )
    verdict = await run(table, clients, deadline_ms=100)
    assert isinstance(verdict, Degrade) and verdict.static


async def test_retry_after_past_the_deadline_moves_on_at_once(upstream, clients) -> None:
    table = build_table(upstream.url, ["rate-limited-30"], ["ok"], policy_spec={"retries": {"attempts": 1}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await run(table, clients, deadline_ms=5000)
    assert loop.time() - started < 0.01  # not 30 s
    assert walk(verdict) == [
        ("rate-limited-30", "rate-limited"),
        ("rate-limited-30", "skipped:backoff-past-deadline"),
        ("ok", "success"),
    ]


async def test_retry_after_within_the_deadline_is_honoured(upstream, clients) -> None:
    table = build_table(upstream.url, ["rate-limited-30"], policy_spec={"retries": {"attempts": 1}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run(table, clients, deadline_ms=60_000)
    assert upstream.requests["rate-limited-30"] == 2
    assert loop.time() - started >= 30  # the retry waited out the upstream's Retry-After


async def test_keep_alive_comment_is_not_a_first_token(upstream, clients) -> None:
    table = build_table(upstream.url, ["keepalive-hang"], ["ok"], policy_spec={"timeouts": FAST})
    verdict = await run(table, clients, stream=True)
    assert walk(verdict) == [("keepalive-hang", "timeout"), ("ok", "success")]
    await upstream.wait_idle("keepalive-hang")


@pytest.mark.parametrize(
    ("model", "stream"),
    [
        pytest.param("first-event-error", True, id="stream-first-event-error"),
        pytest.param("json-error-200", False, id="json-200-error-document"),
        pytest.param("created-201", False, id="unexpected-2xx"),
        pytest.param("created-201", True, id="unexpected-2xx-stream"),
    ],
)
async def test_a_200_that_is_no_answer_fails_over(upstream, clients, model, stream) -> None:
    table = build_table(upstream.url, [model], ["ok"], policy_spec={"retries": {"attempts": 0}})
    verdict = await run(table, clients, stream=stream)
    assert walk(verdict) == [(model, "server-error"), ("ok", "success")]


async def test_json_answers_teach_the_latency_estimate_and_account_usage(upstream, clients) -> None:
    table = build_table(upstream.url, ["slow"])
    verdict = await run(table, clients)
    assert table.endpoints["slow"].latency_ms.value == pytest.approx(1000, abs=20)
    assert isinstance(verdict, ServedJson) and verdict.usage.prompt_tokens == 3
    assert verdict.finish_reason == "stop" and not verdict.output_empty
    assert table.endpoints["slow"].gate.inflight == 0


async def test_token_reservations_are_settled_to_the_reported_usage(upstream, clients) -> None:
    table = build_table(upstream.url, ["ok"], endpoint_specs={"ok": {"limits": {"tokensPerMinute": 1000}}})
    gate = table.endpoints["ok"].gate
    verdict = await execute_plan(table, clients, plan_for(table), tokens=400)
    assert isinstance(verdict, ServedJson)
    assert gate.tokens.available == pytest.approx(1000 - 4, abs=1)  # 400 reserved, 3 + 1 used


HEDGE = {
    "hedge": {"afterMs": 100},
    "timeouts": {"firstTokenMs": 2000, "totalMs": 2000},
    "retries": {"attempts": 0},
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_slow_first_attempt_is_hedged_and_the_loser_cancelled(upstream, clients, stream) -> None:
    table = build_table(upstream.url, ["slow"], ["ok"], policy_spec=HEDGE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await run(table, clients, stream=stream)
    assert loop.time() - started == pytest.approx(0.1, abs=0.02)  # the slow one would take 1 s
    assert served_by(verdict) == "ok"
    assert sorted(walk(verdict)) == [("ok", "success"), ("slow", "hedge-lost")]
    await upstream.wait_idle("slow")
    assert upstream.disconnected["slow"] == 1
    assert table.endpoints["slow"].gate.inflight == 0 and table.endpoints["ok"].gate.inflight == 0
    assert table.endpoints["slow"].gate.breaker.state == "closed"


async def test_fast_first_attempt_is_not_hedged(upstream, clients) -> None:
    table = build_table(upstream.url, ["ok"], ["slow"], policy_spec=HEDGE)
    verdict = await run(table, clients)
    assert walk(verdict) == [("ok", "success")]
    await asyncio.sleep(0.15)
    assert upstream.requests["slow"] == 0


async def test_client_error_before_the_hedge_delay_starts_no_hedge(upstream, clients) -> None:
    table = build_table(upstream.url, ["bad-request"], ["ok"], policy_spec=HEDGE)
    verdict = await run(table, clients)
    assert isinstance(verdict, PassThrough)
    await asyncio.sleep(0.15)
    assert upstream.requests["ok"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_cancelled_during_the_hedge_delay_cancels_the_attempt(upstream, clients, stream) -> None:
    table = build_table(upstream.url, ["hang"], ["ok"], policy_spec={**HEDGE, "hedge": {"afterMs": 500}})
    task = asyncio.create_task(run(table, clients, stream=stream))
    await asyncio.sleep(0.1)  # the client leaves before the hedge would start
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await upstream.wait_idle("hang")
    assert upstream.disconnected["hang"] == 1
    assert table.endpoints["hang"].gate.inflight == 0
    await asyncio.sleep(0.6)  # past hedge.afterMs
    assert upstream.requests["ok"] == 0


async def test_hedge_after_a_context_length_error_respects_the_window(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["context"],
        ["ok", "large"],
        policy_spec={**HEDGE, "hedge": {"afterMs": 1500}},
        endpoint_specs=WINDOWS,
    )
    verdict = await run(table, clients)
    assert walk(verdict) == [
        ("context", "context-length"),
        ("ok", "skipped:context-window"),
        ("large", "success"),
    ]
    assert upstream.requests["ok"] == 1  # the large one's, not a hedge to the same window


async def test_tokens_per_minute_limit_skips_the_endpoint_at_send_time(upstream, clients) -> None:
    table = build_table(
        upstream.url, ["ok"], ["error-500"], endpoint_specs={"ok": {"limits": {"tokensPerMinute": 600}}}
    )
    decision = plan_for(table)
    first = await execute_plan(table, clients, decision, tokens=400)
    second = await execute_plan(table, clients, decision, tokens=600)
    assert walk(first) == [("ok", "success")]
    assert walk(second)[0] == ("ok", "skipped:token-rate-limit")


async def test_timeout_cut_short_by_the_callers_deadline_spares_the_circuit(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["hang"],
        policy_spec={
            "timeouts": {"connectMs": 400, "firstTokenMs": 5000, "totalMs": 5000},
            "circuitBreaker": {"consecutiveFailures": 1, "openSeconds": 30},
        },
    )
    verdict = await run(table, clients, deadline_ms=150)
    assert walk(verdict)[0] == ("hang", "timeout")
    assert table.endpoints["hang"].gate.breaker.state == "closed"  # the caller chose 150 ms; the policy 5 s


async def test_timeout_within_the_policy_counts_against_the_circuit(upstream, clients) -> None:
    table = build_table(
        upstream.url,
        ["hang"],
        policy_spec={
            "timeouts": {"connectMs": 100, "firstTokenMs": 150, "totalMs": 150},
            "circuitBreaker": {"consecutiveFailures": 1, "openSeconds": 30},
        },
    )
    verdict = await run(table, clients, deadline_ms=5000)
    assert walk(verdict)[0] == ("hang", "timeout")
    assert table.endpoints["hang"].gate.breaker.state == "open"
