"""requestsPerMinute: 60 with a burst of 10, served by three sidecars sharing Redis: the sim never
receives more than the bucket allows in any sliding window (it counts every request it receives), not
three times as much. An upstream's own 429 with Retry-After holds the endpoint back until then."""

from __future__ import annotations

import itertools
import time

import pytest
from conftest import Fleet, sim_stats

from support.load import closed_loop
from support.redis_server import RedisServer
from support.stack import endpoint, http, policy, route

pytestmark = pytest.mark.timeout(120)

BODY = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
RATE, BURST, SECONDS = 60, 10, 15.0


def test_three_sidecars_share_one_requests_per_minute_bucket(
    fleet: Fleet, sim_models, redis_server: RedisServer
) -> None:
    sim = sim_models({"paced": {}})
    documents = [
        endpoint(
            "paced", sim.base_url, model="paced", limits={"requestsPerMinute": RATE, "requestsBurst": BURST}
        ),
        route("r", ["paced"], default=True),
    ]
    sidecars = fleet.start(documents, count=3, state=redis_server.url)
    targets = itertools.cycle(sidecars)
    started = time.monotonic()
    answers = closed_loop(
        lambda _: (f"{next(targets).base_url}/v1/chat/completions", BODY, {}),
        concurrency=8,
        seconds=SECONDS,
        max_requests=2_000,
        pause=0.5,  # about 15 requests a second offered: fifteen times the rate
    )
    elapsed = time.monotonic() - started
    stats = sim_stats(sim)["paced"]
    served = sum(a.status == 200 for a in answers)
    # The bucket's own bound over the run (burst + rate x time), well under what three unshared buckets
    # would let through (3 x (burst + rate x time)); the sim's sliding minute holds it too.
    allowed = BURST + RATE * elapsed / 60
    assert stats["requests"] == served
    assert stats["max_in_window"] <= RATE + BURST
    assert served <= allowed + 1, (served, allowed)
    assert served >= 0.8 * (BURST + RATE * SECONDS / 60), served  # the fleet did use its rate
    refused = [a for a in answers if a.status == 429]
    assert refused and all(
        b'"rate_limited"' in a.body and int(a.headers["Retry-After"]) >= 1 for a in refused
    )


def spillover_documents(sim_url: str) -> list[dict[str, object]]:
    """`strict` (no limit the sidecar knows of) with `spare` behind it."""
    return [
        endpoint("strict", sim_url, model="strict"),
        endpoint("spare", sim_url, model="spare"),
        policy("p", chain=["spare"], retries={"attempts": 0}),
        route("r", ["strict"], default=True, fallbackPolicy="p"),
    ]


def test_the_upstreams_remaining_requests_header_stops_the_sidecar_before_a_429(
    fleet: Fleet, sim_models
) -> None:
    # The upstream allows 5 a minute and says how many remain on every answer (x-ratelimit-*).
    sim = sim_models({"strict": {"requests_per_minute": 5}, "spare": {}})
    (sidecar,) = fleet.start(spillover_documents(sim.base_url), count=1)
    served_by = [
        http("POST", f"{sidecar.base_url}/v1/chat/completions", BODY).header("X-Switchboard-Endpoint")
        for _ in range(12)
    ]
    stats = sim_stats(sim)
    assert served_by[:5] == ["strict"] * 5 and set(served_by[5:]) == {"spare"}
    assert stats["strict"]["requests"] == 5 and "rate-limited" not in stats["strict"]["outcomes"]


def test_an_upstream_429_with_retry_after_holds_the_endpoint_back(fleet: Fleet, sim_models) -> None:
    # Every answer a 429 with Retry-After: 30, and no x-ratelimit headers to say more.
    sim = sim_models({"strict": {"fault": "rate-limited", "retry_after_s": 30}, "spare": {}})
    (sidecar,) = fleet.start(spillover_documents(sim.base_url), count=1)
    served_by = [
        http("POST", f"{sidecar.base_url}/v1/chat/completions", BODY).header("X-Switchboard-Endpoint")
        for _ in range(10)
    ]
    # The first request met the 429 and failed over; the next nine went to the spare without knocking
    # on the strict endpoint again before its Retry-After.
    assert served_by == ["spare"] * 10
    assert sim_stats(sim)["strict"]["requests"] == 1
    limited = http("GET", f"{sidecar.base_url}/switchboard/endpoints").json()["endpoints"]["strict"][
        "limited"
    ]
    assert limited == "rate-limit"
