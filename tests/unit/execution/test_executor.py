"""The executor's walk over a plan, against a real loopback upstream whose behaviour is keyed by model name.

Every config is compiled from resources like the sidecar's, planned by the real planner, and executed with
a real aiohttp session; only the upstream is fake (see conftest.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from support.builders import endpoint, policy, resources, route
from switchboard_proxy.config import compile
from switchboard_proxy.execution.executor import Execution, Outcome, execute
from switchboard_proxy.execution.upstreams import Call
from switchboard_proxy.routing import Plan, RouteRequest, plan
from switchboard_proxy.runtime import Credentials, RoutingTable

# `context` refuses the prompt; `ok` has the same window; `large` (the `ok` model) has a larger one.
WINDOWS = {
    "context": {"contextWindow": 8192},
    "ok": {"contextWindow": 8192},
    "large": {"contextWindow": 65536, "model": "ok"},
}
HELLO = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
# Short enough to keep the tests quick, long enough for a healthy fake answer on a loaded 2-core box.
FAST = {"connectMs": 400, "firstTokenMs": 400, "totalMs": 400}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


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
    table: RoutingTable, session: aiohttp.ClientSession, decision: Plan, *, stream: bool = False
) -> Outcome:
    loop = asyncio.get_running_loop()
    call = Call("chat", {**HELLO, "stream": stream}, stream)
    deadline = loop.time() + decision.deadline_ms / 1000
    outcome = await execute(decision, Execution(table, session, call, deadline, random.Random(0)))
    if outcome.served is not None and outcome.served.response is not None:
        outcome.served.close()  # a test does not relay the stream: give back what it holds
        outcome.served.endpoint.concurrency.release()
    return outcome


async def run(
    table: RoutingTable,
    session: aiohttp.ClientSession,
    *,
    stream: bool = False,
    deadline_ms: int | None = None,
) -> Outcome:
    """Plan and execute one chat call to route `r`."""
    decision = plan_for(table, stream=stream, deadline_ms=deadline_ms)
    return await execute_plan(table, session, decision, stream=stream)


def walk(outcome: Outcome) -> list[tuple[str, str]]:
    return [(r.endpoint, r.outcome) for r in outcome.records]


async def test_same_endpoint_retries_then_the_chain(upstream, session) -> None:
    table = build_table(
        upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 2, "backoffMs": 1}}
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("error-500", "server-error")] * 3 + [("ok", "success")]
    assert outcome.served is not None and outcome.served.endpoint.config.name == "ok"
    assert outcome.sent == 4 and outcome.error is None


async def test_transient_failure_is_served_by_the_retry(upstream, session) -> None:
    table = build_table(
        upstream.url, ["flaky"], ["ok"], policy_spec={"retries": {"attempts": 1, "backoffMs": 1}}
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("flaky", "server-error"), ("flaky", "success")]
    assert upstream.requests["ok"] == 0


async def test_timed_out_endpoint_is_not_retried_while_another_is_left(upstream, session) -> None:
    table = build_table(
        upstream.url, ["hang"], ["ok"], policy_spec={"timeouts": FAST, "retries": {"attempts": 1}}
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("hang", "timeout"), ("ok", "success")]
    assert upstream.requests["hang"] == 1


async def test_timed_out_endpoint_is_retried_when_nothing_else_is_left(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["error-500"],
        ["hang"],
        policy_spec={"timeouts": FAST, "retries": {"attempts": 1, "backoffMs": 1}},
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("error-500", "server-error")] * 2 + [("hang", "timeout")] * 2
    assert outcome.served is None and not outcome.deadline_exceeded


async def test_context_length_tries_only_larger_windows(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["context"],
        ["ok", "large"],
        policy_spec={"retries": {"attempts": 1}},
        endpoint_specs=WINDOWS,
    )
    outcome = await run(table, session)
    assert walk(outcome) == [
        ("context", "context-length"),
        ("ok", "skipped:context-window"),
        ("large", "success"),
    ]
    assert table.endpoints["context"].breaker.state == "closed"


async def test_client_error_stops_the_walk_and_spares_the_circuit(upstream, session) -> None:
    table = build_table(
        upstream.url, ["bad-request"], ["ok"], policy_spec={"circuitBreaker": {"consecutiveFailures": 1}}
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("bad-request", "client-error")]
    assert outcome.error is not None and outcome.error.status == 400 and b"max_tokens" in outcome.error.body
    assert table.endpoints["bad-request"].breaker.state == "closed"
    assert upstream.requests["ok"] == 0


async def test_trigger_not_in_on_stops_the_walk_but_counts_against_the_endpoint(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["error-500"],
        ["ok"],
        policy_spec={"on": ["timeout"], "circuitBreaker": {"consecutiveFailures": 1}},
    )
    outcome = await run(table, session)
    assert walk(outcome) == [("error-500", "server-error")]
    assert outcome.error is not None and outcome.error.failure == "server-error"
    assert table.endpoints["error-500"].breaker.state == "open"


async def test_spent_retry_budget_skips_the_retry(upstream, session) -> None:
    table = build_table(
        upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 2, "budgetPercent": 0}}
    )
    outcome = await run(table, session)
    assert walk(outcome) == [
        ("error-500", "server-error"),
        ("error-500", "skipped:retry-budget"),
        ("ok", "success"),
    ]


async def test_circuit_opened_after_planning_is_skipped_at_send_time(upstream, session) -> None:
    table = build_table(upstream.url, ["error-500"], ["ok"], policy_spec={"retries": {"attempts": 0}})
    decision = plan_for(table)  # planned while closed; concurrent requests open the circuit meanwhile
    breaker = table.endpoints["error-500"].breaker
    for _ in range(breaker.consecutive_failures):
        breaker.record_failure()
    outcome = await execute_plan(table, session, decision)
    assert walk(outcome) == [("error-500", "skipped:circuit-open"), ("ok", "success")]
    assert upstream.requests["error-500"] == 0


async def test_full_concurrency_limit_is_skipped_at_send_time(upstream, session) -> None:
    table = build_table(
        upstream.url, ["slow"], ["ok"], endpoint_specs={"slow": {"limits": {"maxConcurrency": 1}}}
    )
    decision = plan_for(table)
    assert table.endpoints["slow"].concurrency.try_acquire()  # another request takes the only slot
    outcome = await execute_plan(table, session, decision)
    assert walk(outcome) == [("slow", "skipped:concurrency-limit"), ("ok", "success")]
    assert table.endpoints["slow"].concurrency.inflight == 1


async def test_running_out_of_deadline_is_reported(upstream, session) -> None:
    table = build_table(upstream.url, ["hang"], policy_spec={"retries": {"attempts": 1, "backoffMs": 1}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await run(table, session, deadline_ms=200)
    assert 0.19 < loop.time() - started < 1.0
    assert walk(outcome) == [("hang", "timeout"), ("hang", "skipped:backoff-past-deadline")]
    assert outcome.deadline_exceeded and outcome.served is None and outcome.error is None


async def test_all_failing_fast_is_not_a_deadline(upstream, session) -> None:
    table = build_table(upstream.url, ["error-500"], policy_spec={"retries": {"attempts": 0}})
    outcome = await run(table, session, deadline_ms=5000)
    assert walk(outcome) == [("error-500", "server-error")] and not outcome.deadline_exceeded


async def test_retry_after_past_the_deadline_moves_on_at_once(upstream, session) -> None:
    table = build_table(upstream.url, ["rate-limited-30"], ["ok"], policy_spec={"retries": {"attempts": 1}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await run(table, session, deadline_ms=5000)
    assert loop.time() - started < 2.0  # not 30 s
    assert walk(outcome) == [
        ("rate-limited-30", "rate-limited"),
        ("rate-limited-30", "skipped:backoff-past-deadline"),
        ("ok", "success"),
    ]
    assert outcome.last_failed is not None and outcome.last_failed.retry_after == 30


async def test_keep_alive_comment_is_not_a_first_token(upstream, session) -> None:
    table = build_table(upstream.url, ["keepalive-hang"], ["ok"], policy_spec={"timeouts": FAST})
    outcome = await run(table, session, stream=True)
    assert walk(outcome) == [("keepalive-hang", "timeout"), ("ok", "success")]
    await upstream.wait_idle("keepalive-hang")


@pytest.mark.parametrize(
    ("model", "stream", "failure"),
    [
        pytest.param("first-event-error", True, "server-error", id="stream-first-event-error"),
        pytest.param("json-error-200", False, "server-error", id="json-200-error-document"),
        pytest.param("created-201", False, "server-error", id="unexpected-2xx"),
        pytest.param("created-201", True, "server-error", id="unexpected-2xx-stream"),
    ],
)
async def test_a_200_that_is_no_answer_fails_over(upstream, session, model, stream, failure) -> None:
    table = build_table(upstream.url, [model], ["ok"], policy_spec={"retries": {"attempts": 0}})
    outcome = await run(table, session, stream=stream)
    assert walk(outcome) == [(model, failure), ("ok", "success")]


async def test_served_stream_holds_its_concurrency_slot_until_relayed(upstream, session) -> None:
    table = build_table(upstream.url, ["ok"])
    loop = asyncio.get_running_loop()
    call = Call("chat", {**HELLO, "stream": True}, True)
    execution = Execution(table, session, call, loop.time() + 5, random.Random(0))
    outcome = await execute(plan_for(table, stream=True), execution)
    assert outcome.served is not None and outcome.served.first_events[0].startswith(b"data: ")
    assert table.endpoints["ok"].concurrency.inflight == 1
    outcome.served.close()
    outcome.served.endpoint.concurrency.release()


async def test_json_answers_teach_the_latency_estimate(upstream, session) -> None:
    table = build_table(upstream.url, ["slow"])
    await run(table, session)
    assert table.endpoints["slow"].latency_ms.value >= 250
    assert table.endpoints["slow"].concurrency.inflight == 0


HEDGE = {
    "hedge": {"afterMs": 100},
    "timeouts": {"firstTokenMs": 2000, "totalMs": 2000},
    "retries": {"attempts": 0},
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_slow_first_attempt_is_hedged_and_the_loser_cancelled(upstream, session, stream) -> None:
    table = build_table(upstream.url, ["slow"], ["ok"], policy_spec={**HEDGE, "hedge": {"afterMs": 100}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await run(table, session, stream=stream)
    assert loop.time() - started < 0.8  # the slow one would take 1 s
    assert outcome.served is not None and outcome.served.endpoint.config.name == "ok"
    assert sorted(walk(outcome)) == [("ok", "success"), ("slow", "hedge-lost")]
    await upstream.wait_idle("slow")
    assert upstream.disconnected["slow"] == 1
    assert table.endpoints["slow"].concurrency.inflight == 0
    assert table.endpoints["slow"].breaker.state == "closed"


async def test_fast_first_attempt_is_not_hedged(upstream, session) -> None:
    table = build_table(upstream.url, ["ok"], ["slow"], policy_spec=HEDGE)
    outcome = await run(table, session)
    assert walk(outcome) == [("ok", "success")]
    await asyncio.sleep(0.15)
    assert upstream.requests["slow"] == 0


async def test_client_error_before_the_hedge_delay_starts_no_hedge(upstream, session) -> None:
    table = build_table(upstream.url, ["bad-request"], ["ok"], policy_spec=HEDGE)
    outcome = await run(table, session)
    assert outcome.error is not None and outcome.error.failure == "client-error"
    await asyncio.sleep(0.15)
    assert upstream.requests["ok"] == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_cancelled_during_the_hedge_delay_cancels_the_attempt(upstream, session, stream) -> None:
    table = build_table(upstream.url, ["hang"], ["ok"], policy_spec={**HEDGE, "hedge": {"afterMs": 500}})
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(run(table, session, stream=stream))
    await asyncio.sleep(0.1)  # the client leaves before the hedge would start
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await upstream.wait_idle("hang", timeout=1.0)
    assert upstream.disconnected["hang"] == 1
    assert table.endpoints["hang"].concurrency.inflight == 0
    await asyncio.sleep(max(0.0, started + 0.7 - loop.time()))  # past hedge.afterMs
    assert upstream.requests["ok"] == 0


async def test_hedge_after_a_context_length_error_respects_the_window(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["context"],
        ["ok", "large"],
        # A hedge delay far above the fake's instant 400, so the error always comes before the hedge would.
        policy_spec={**HEDGE, "hedge": {"afterMs": 1500}},
        endpoint_specs=WINDOWS,
    )
    outcome = await run(table, session)
    assert walk(outcome) == [
        ("context", "context-length"),
        ("ok", "skipped:context-window"),
        ("large", "success"),
    ]
    assert upstream.requests["ok"] == 1  # the large one's, not a hedge to the same window


async def test_tokens_per_minute_limit_skips_the_endpoint_at_send_time(upstream, session) -> None:
    table = build_table(
        upstream.url, ["ok"], ["error-500"], endpoint_specs={"ok": {"limits": {"tokensPerMinute": 600}}}
    )
    decision = plan_for(table)
    loop = asyncio.get_running_loop()
    call = Call("chat", dict(HELLO), False)

    async def once() -> Outcome:
        run = Execution(table, session, call, loop.time() + 5, random.Random(0), estimated_tokens=400)
        return await execute(decision, run)

    first, second = await once(), await once()
    assert walk(first) == [("ok", "success")]
    assert walk(second)[0] == ("ok", "skipped:token-rate-limit")
    assert not table.endpoints["ok"].token_rate.try_take(400)  # 200 of 600 left this minute


async def test_timeout_cut_short_by_the_callers_deadline_spares_the_circuit(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["hang"],
        policy_spec={
            "timeouts": {"connectMs": 400, "firstTokenMs": 5000, "totalMs": 5000},
            "circuitBreaker": {"consecutiveFailures": 1, "openSeconds": 30},
        },
    )
    outcome = await run(table, session, deadline_ms=150)
    assert walk(outcome)[0] == ("hang", "timeout")
    assert table.endpoints["hang"].breaker.state == "closed"  # the caller chose 150 ms; the policy allows 5 s


async def test_timeout_within_the_policy_counts_against_the_circuit(upstream, session) -> None:
    table = build_table(
        upstream.url,
        ["hang"],
        policy_spec={
            "timeouts": {"connectMs": 100, "firstTokenMs": 150, "totalMs": 150},
            "circuitBreaker": {"consecutiveFailures": 1, "openSeconds": 30},
        },
    )
    outcome = await run(table, session, deadline_ms=5000)
    assert walk(outcome)[0] == ("hang", "timeout")
    assert table.endpoints["hang"].breaker.state == "open"
