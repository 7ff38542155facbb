"""Session affinity through a real sidecar and sim, counted by its own metric: 1,000 sessions over a pool
of three endpoints weighted 50/30/20 land, after their first request, where the first did while all are
healthy; split by the weights within statistical bounds; and when one endpoint becomes ineligible (its
circuit opens) exactly its sessions move, and `switchboard_affinity_total{result="moved"}` counts them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources
from support.waiting import wait_until

pytestmark = pytest.mark.integration

WEIGHTS = {"aff-a": 50, "aff-b": 30, "aff-c": 20}
SESSIONS = [f"conversation-{n}" for n in range(1000)]
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def sessions(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [
        *(endpoint(name, sim.base_url) for name in WEIGHTS),
        policy("p", retries={"attempts": 0}, circuitBreaker={"consecutiveFailures": 1, "openSeconds": 600}),
        route(
            "sessions",
            [{"endpoint": name, "weight": weight} for name, weight in WEIGHTS.items()],
            fallbackPolicy="p",
            affinity={"by": "session"},
        ),
    ]
    resources = write_resources(tmp_path_factory.mktemp("affinity") / "resources", documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


def served(stack: Stack, keys: list[str]) -> dict[str, str]:
    """The endpoint that served one request of each session (eight at a time)."""

    def one(key: str) -> str:
        reply = stack.post(
            "/v1/chat/completions",
            {"model": "sessions", "messages": HELLO, "max_tokens": 4},
            headers={"X-Switchboard-Session": key},
        )
        assert reply.status == 200, reply.body
        return str(reply.header("X-Switchboard-Endpoint"))

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


def test_sessions_stick_split_by_weight_and_only_an_ineligible_endpoints_sessions_move(
    sessions: Stack,
) -> None:
    for name in WEIGHTS:
        sessions.fault(name, output_tokens=2)
    first = served(sessions, SESSIONS)
    counts = Counter(first.values())
    for name, weight in WEIGHTS.items():
        share = weight / 100
        assert abs(counts[name] - 1000 * share) < 4 * math.sqrt(1000 * share * (1 - share)), counts
    assert served(sessions, SESSIONS) == first  # every later request lands where the first did
    assert sessions.metric("switchboard_affinity_total", route="sessions", result="hit") == 2000
    assert sessions.metric("switchboard_affinity_total", route="sessions", result="moved") == 0

    # aff-c fails once and its circuit opens: its sessions move, and only they.
    sessions.fault("aff-c", fault="error-503")
    homed_on_c = [key for key, name in first.items() if name == "aff-c"]
    assert served(sessions, homed_on_c[:1]) != {homed_on_c[0]: "aff-c"}  # failed over to its runner-up
    wait_until(
        lambda: sessions.get("/switchboard/endpoints").json()["endpoints"]["aff-c"]["circuit"] == "open",
        timeout=10,
        what="aff-c's circuit to open",
    )
    after = served(sessions, SESSIONS)
    assert {key for key in SESSIONS if after[key] != first[key]} == set(homed_on_c)
    assert "aff-c" not in after.values()
    assert sessions.metric("switchboard_affinity_total", route="sessions", result="moved") == len(homed_on_c)
    assert sessions.metric("switchboard_affinity_total", route="sessions", result="hit") == 3001 - len(
        homed_on_c
    )
