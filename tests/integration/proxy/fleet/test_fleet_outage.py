"""Redis killed in the middle of a run and started again (empty, as a Redis without persistence comes
back): no client request fails, `switchboard_state_backend_up` says 0 while it is away and 1 again after,
and the budget's window resumes where the fleet left it (each sidecar writes its own part back)."""

from __future__ import annotations

import itertools
import threading

import pytest
from conftest import Fleet

from support.load import closed_loop
from support.redis_server import RedisServer
from support.stack import endpoint, http, read_metric, route
from support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

BODY = {"model": "r", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
PRICE = {"inputPerMTok": 100.0, "outputPerMTok": 100.0}  # $0.001 per request


def backend_up(sidecar) -> float:
    return read_metric(
        http("GET", f"{sidecar.base_url}/metrics").body.decode(), "switchboard_state_backend_up"
    )


def test_redis_killed_and_restarted_mid_run_fails_no_request(
    fleet: Fleet, sim_models, redis_server: RedisServer
) -> None:
    sim = sim_models({"m": {"ttft_ms": 10}})
    documents = [
        endpoint(
            "m",
            sim.base_url,
            model="m",
            pricing=PRICE,
            limits={"maxConcurrency": 16, "requestsPerMinute": 60_000},
        ),
        route("r", ["m"], default=True, budget={"usd": 100.0, "window": "1d", "action": "reject"}),
    ]
    sidecars = fleet.start(documents, count=2, state=redis_server.url)
    targets = itertools.cycle(sidecars)
    seen_down = threading.Event()
    phases = {"killed": False, "restarted": False}

    def drive_outage(elapsed: float) -> None:
        if elapsed > 2 and not phases["killed"]:
            phases["killed"] = True
            redis_server.kill()
        elif elapsed > 5 and not phases["restarted"]:
            phases["restarted"] = True
            redis_server.start()

    def watch() -> None:
        while not phases["restarted"]:
            if phases["killed"] and all(backend_up(s) == 0 for s in sidecars):
                seen_down.set()
            threading.Event().wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    answers = closed_loop(
        lambda _: (f"{next(targets).base_url}/v1/chat/completions", BODY, {}),
        concurrency=8,
        seconds=9.0,
        max_requests=50_000,
        on_tick=drive_outage,
    )
    watcher.join(timeout=5)
    assert answers and all(a.status == 200 for a in answers), {a.status for a in answers}
    assert seen_down.is_set(), "the sidecars never said the shared state was away"
    for sidecar in sidecars:
        wait_until(lambda s=sidecar: backend_up(s) == 1, timeout=10, what="the shared state to be back")
    spent = sum(float(a.headers["X-Switchboard-Cost-Usd"]) for a in answers)

    def fleet_spent() -> float:
        values = [
            http("GET", f"{s.base_url}/switchboard/config").json()["budgets"]["r"]["spent_usd"]
            for s in sidecars
        ]
        return min(values)

    # The restarted Redis learnt every sidecar's spend back, including what was spent while it was away.
    wait_until(lambda: fleet_spent() >= spent - 1e-9, timeout=10, what="the budget to resume")
    assert fleet_spent() == pytest.approx(spent)
