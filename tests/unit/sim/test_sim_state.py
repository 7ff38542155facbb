"""Live state of switchboard-sim: fault budgets, runtime changes and their undo, the redacted request log.

(Named test_sim_state.py, not test_state.py, so it cannot collide with another package's test module.)
"""

from __future__ import annotations

import pytest

from switchboard_proxy.sim.profiles import REDACTED, Profile, ProfileError
from switchboard_proxy.sim.state import REQUEST_LOG_SIZE, SimState, make_log_entry, redact_headers


def faults_in(state: SimState, name: str, *, requests: int) -> list[bool]:
    return [state.draw_fault(name) for _ in range(requests)]


def test_fail_count_faults_the_next_n_requests_then_heals() -> None:
    state = SimState(startup={"m": Profile(fault="error-503", fail_count=2)})
    assert faults_in(state, "m", requests=5) == [True, True, False, False, False]


def test_error_rate_is_reproducible_per_seed() -> None:
    profile = Profile(fault="error-500", error_rate=0.3, seed=42)
    first = faults_in(SimState(startup={"m": profile}), "m", requests=200)
    second = faults_in(SimState(startup={"m": profile}), "m", requests=200)
    assert first == second
    assert 30 <= sum(first) <= 90, "about 30% of 200"


def test_update_rearms_the_fault_only_when_fault_fields_change() -> None:
    state = SimState(startup={"m": Profile()})
    state.update("m", fields={"fault": "reset", "fail_count": 1})
    assert faults_in(state, "m", requests=2) == [True, False]
    state.update("m", fields={"ttft_ms": 5})
    assert faults_in(state, "m", requests=1) == [False], "a latency change must not re-arm the fault"
    state.update("m", fields={"fail_count": 1})
    assert faults_in(state, "m", requests=2) == [True, False]


def test_update_creates_and_restore_removes_runtime_models() -> None:
    state = SimState(startup={"m": Profile(ttft_ms=1)})
    state.update("new", fields={"output_tokens": 3})
    assert state.resolve("new") == "new"
    assert state.restore("new") is None
    assert state.resolve("new") is None
    state.update("m", fields={"ttft_ms": 99})
    assert state.restore("m") == Profile(ttft_ms=1)


def test_update_validates_before_changing_anything() -> None:
    state = SimState(startup={"m": Profile()})
    with pytest.raises(ProfileError):
        state.update("m", fields={"ttft_ms": 5, "fault": "explode"})
    assert state.profiles["m"] == Profile()


def test_resolve_falls_back_to_the_default_profile() -> None:
    assert SimState(startup={"m": Profile()}).resolve("other") is None
    assert SimState(startup={"m": Profile(), "default": Profile()}).resolve("other") == "default"


def test_reset_restores_profiles_and_clears_counters() -> None:
    state = SimState(startup={"m": Profile()})
    state.update("m", fields={"fault": "hang"})
    state.begin("m")
    state.record_request({"model": "m", "profile": "m"})
    state.reset()
    assert state.profiles["m"] == Profile()
    assert state.stats()["models"]["m"]["requests"] == 0
    assert state.recent_requests(model=None, limit=10) == []


def test_inflight_and_max_inflight() -> None:
    state = SimState(startup={"m": Profile()})
    first, _ = state.begin("m"), state.begin("m")
    first.inflight -= 1
    stats = state.stats()["models"]["m"]
    assert (stats["requests"], stats["inflight"], stats["max_inflight"]) == (2, 1, 2)


def test_request_log_is_bounded_and_filterable() -> None:
    state = SimState(startup={})
    for i in range(REQUEST_LOG_SIZE + 10):
        state.record_request({"model": "asked", "profile": f"p{i % 2}", "i": i})
    everything = state.recent_requests(model=None, limit=1000)
    assert len(everything) == REQUEST_LOG_SIZE
    assert everything[-1]["i"] == REQUEST_LOG_SIZE + 9, "newest last"
    assert [e["i"] for e in state.recent_requests(model="p1", limit=2)] == [207, 209]
    assert len(state.recent_requests(model="asked", limit=5)) == 5, "matches the asked model too"
    assert state.recent_requests(model=None, limit=0) == []


def test_headers_are_redacted_in_the_log() -> None:
    headers = {
        "Authorization": "Bearer sk-live",
        "x-api-key": "sk-ant",
        "api-key": "azure",
        "X-Request-Id": "r1",
        "Host": "127.0.0.1",
    }
    assert redact_headers(headers) == {
        "authorization": REDACTED,
        "x-api-key": REDACTED,
        "api-key": REDACTED,
        "x-request-id": "r1",
    }
    entry = make_log_entry(("POST", "/v1/x"), model="a", profile="b", headers=headers, body={"stream": True})
    assert entry["stream"] is True
    assert "sk-live" not in repr(entry)
