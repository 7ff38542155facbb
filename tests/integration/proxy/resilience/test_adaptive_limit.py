"""The adaptive concurrency limit finds a real upstream's knee: a switchboard-sim model generating at most
`capacity` requests at once (the rest queue, so latency rises past it), driven by more clients than that.
The limit settles within 30% of the capacity and backs off when the knee moves down."""

from __future__ import annotations

import pytest

from support.load import closed_loop
from support.stack import endpoint, route
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

BODY = {"model": "r", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}


def limit_of(stack) -> int:
    return int(
        stack.get("/switchboard/endpoints").json()["endpoints"]["knee"]["admission"]["concurrency_limit"]
    )


def test_the_limit_settles_near_the_upstreams_capacity_and_backs_off(make_stack) -> None:
    documents = [
        endpoint("knee", make_stack.sim_url, model="knee", limits={"maxConcurrency": 80}),
        route("r", ["knee"], default=True, deadlineMs=20_000),
    ]
    stack = make_stack({"knee": {"capacity": 10, "ttft_ms": 100}}, documents)
    seen: dict[str, list[int]] = {"first": [], "second": []}
    phase = {"name": "first"}

    def watch(elapsed: float) -> None:
        if elapsed > 6 and phase["name"] == "first":
            seen["first"].append(limit_of(stack))
        if elapsed > 9 and phase["name"] == "first":
            phase["name"] = "second"
            stack.fault("knee", capacity=4)  # the upstream's knee moves down
        if elapsed > 17 and phase["name"] == "second":
            seen["second"].append(limit_of(stack))

    url = f"{stack.url}/v1/chat/completions"
    answers = closed_loop(
        lambda _: (url, BODY, {}), concurrency=30, seconds=20, max_requests=20_000, on_tick=watch
    )
    assert {a.status for a in answers} == {200}
    first, second = seen["first"], seen["second"]
    admission = stack.get("/switchboard/endpoints").json()["endpoints"]["knee"]["admission"]
    # Within 30% of the sim's capacity, before and after the knee moved down (10, then 4).
    assert first and all(7 <= limit <= 13 for limit in first), (first, admission)
    assert second and all(3 <= limit <= 5 for limit in second), (first, second, admission)
    assert stack.sim_stats()["knee"]["max_generating"] <= 10
    wait_until(lambda: stack.metric("switchboard_concurrency_limit", endpoint="knee") >= 1, timeout=5)
