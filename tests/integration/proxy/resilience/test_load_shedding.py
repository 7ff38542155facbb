"""Per-endpoint concurrency is shared out by priority, so sheddable work is turned away first (503 +
Retry-After, `switchboard_shed_total`) while critical work on the same endpoint is served. These endpoints
have no queue (`maxQueue: 0`) and a fixed limit (`adaptiveConcurrency: false`: an adaptive limit's first
window admits only a few, to measure the upstream's no-load latency), so a request over its share is refused
at once; test_spike.py covers the queue and the adaptive limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chains import ROUTE

from support.stack import endpoint, route
from support.waiting import wait_until

SLOW = {"ttft_ms": 400}
FIXED = {
    "maxQueue": 0,
    "adaptiveConcurrency": False,
}  # every answer takes ~400 ms, so a burst piles up in flight


def test_spike_sheds_sheddable_first_and_keeps_critical(make_stack) -> None:
    documents = [
        endpoint("busy", make_stack.sim_url, limits={"maxConcurrency": 10, **FIXED}),
        route(ROUTE, ["busy"], priority="sheddable", default=True),
        route("critical", ["busy"], priority="critical"),
    ]
    stack = make_stack({"busy": SLOW}, documents)

    def call(route_name: str) -> int:
        body = {"model": route_name, "messages": [{"role": "user", "content": "hi"}]}
        return stack.post("/v1/chat/completions", body, timeout=20).status

    with ThreadPoolExecutor(max_workers=24) as pool:
        sheddable = [pool.submit(call, ROUTE) for _ in range(20)]  # 2x the endpoint's capacity at once
        critical = [pool.submit(call, "critical") for _ in range(4)]
        sheddable_codes = [f.result() for f in sheddable]
        critical_codes = [f.result() for f in critical]

    assert critical_codes == [200] * 4, critical_codes  # room kept above sheddable's 60% share
    assert sheddable_codes.count(200) >= 6 and 503 in sheddable_codes
    assert set(sheddable_codes) <= {200, 503}
    shed = stack.metric("switchboard_shed_total", route=ROUTE, priority="sheddable", reason="shed")
    assert shed == sheddable_codes.count(503)
    assert stack.sim_stats()["busy"]["max_inflight"] <= 10


def test_shed_answer_says_why_and_when_to_retry(make_stack) -> None:
    documents = [
        # Two slots: sheddable work may hold one of them (60% of 2, at least 1), the other is kept.
        endpoint("busy", make_stack.sim_url, limits={"maxConcurrency": 2, **FIXED}),
        route(ROUTE, ["busy"], priority="sheddable", default=True),
    ]
    stack = make_stack({"busy": {"ttft_ms": 1500}}, documents)
    body = {"model": ROUTE, "messages": [{"role": "user", "content": "hi"}]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(stack.post, "/v1/chat/completions", body)
        wait_until(
            lambda: stack.get("/switchboard/endpoints").json()["endpoints"]["busy"]["inflight"] == 1,
            timeout=5,
            interval=0.02,
            what="the first request to hold the endpoint's slot",
        )
        second = stack.post("/v1/chat/completions", body)
        assert first.result().status == 200
    assert second.status == 503 and second.header("Retry-After") == "1"
    error = second.json()["error"]
    assert error["code"] == "overloaded" and "admission control" in error["message"]
