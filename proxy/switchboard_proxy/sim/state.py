"""Live state of one `switchboard-sim` process: current profiles, fault budgets, statistics, request log.

Where it sits: `app.py` stores one `SimState` under an AppKey (shared by every listening port); the model
API handlers resolve a profile, record the request and count outcomes here; the control API reads and
replaces profiles. No aiohttp in this module, so it can be read and tested without a server.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchboard_proxy.sim.profiles import REDACTED, Profile, decide_fault, merge_profile

REQUEST_LOG_SIZE = 200
DEFAULT_MODEL = "default"
# Headers whose values are credentials: recorded as a fixed marker, never verbatim.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"})
# Headers that say nothing about what a proxy chose to send.
SKIPPED_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})
# Fields that re-arm the fault when a PUT changes them (a PUT of ttft_ms alone must not).
FAULT_FIELDS = frozenset({"fault", "fail_count", "error_rate", "seed"})


ARRIVALS_KEPT = 100_000  # arrival times kept for the sliding-window count (bounded runs only)


@dataclass
class ModelRuntime:
    """Mutable companions of one model's profile: random source, fault budget and counters."""

    rng: random.Random
    remaining_faults: int
    requests: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    inflight: int = 0
    max_inflight: int = 0
    generating: int = 0  # requests holding one of the capacity's places
    max_generating: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))
    accepted: deque[float] = field(default_factory=deque)  # within the last minute, for requests_per_minute

    async def generate_slot(self, capacity: int) -> None:
        """Wait for one of `capacity` places to generate in (arrival order); `end_generation` frees it."""
        if capacity and self.generating >= capacity:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self.end_generation(capacity)  # handed a place just as the client left
                else:
                    self.waiting.remove(turn)
                raise
        else:
            self.generating += 1
        self.max_generating = max(self.max_generating, self.generating)

    def end_generation(self, capacity: int) -> None:
        """A place is free: the longest waiter gets it (the count stays), or the count drops."""
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.generating -= 1

    def admit_rate(self, now: float, *, per_minute: int) -> tuple[bool, int, float]:
        """Accept one more request within `per_minute` per sliding minute? (accepted, remaining, seconds
        until one more would be)."""
        while self.accepted and self.accepted[0] <= now - 60:
            self.accepted.popleft()
        if len(self.accepted) >= per_minute:
            return False, 0, self.accepted[0] + 60 - now
        self.accepted.append(now)
        reset = self.accepted[0] + 60 - now if len(self.accepted) >= per_minute else 0.0
        return True, per_minute - len(self.accepted), reset

    def max_in_window(self, window_s: float) -> int:
        """The most requests received in any sliding window of `window_s` seconds."""
        best, start = 0, 0
        arrivals = self.arrivals
        for end in range(len(arrivals)):
            while arrivals[end] - arrivals[start] >= window_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    @classmethod
    def for_profile(cls, profile: Profile) -> ModelRuntime:
        return cls(rng=random.Random(profile.seed), remaining_faults=profile.fail_count)

    def rearm(self, profile: Profile) -> None:
        """Restart the fault sequence: same seed, full fail_count budget."""
        self.rng = random.Random(profile.seed)
        self.remaining_faults = profile.fail_count


@dataclass
class SimState:
    """All per-process state; built once from the startup profiles."""

    startup: dict[str, Profile]
    profiles: dict[str, Profile] = field(default_factory=dict)
    runtimes: dict[str, ModelRuntime] = field(default_factory=dict)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    unmatched: int = 0

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Every profile back to its startup value; statistics and the request log cleared."""
        self.profiles = dict(self.startup)
        self.runtimes = {name: ModelRuntime.for_profile(p) for name, p in self.profiles.items()}
        self.requests.clear()
        self.unmatched = 0

    def resolve(self, requested: str) -> str | None:
        """The profile name serving `requested`: itself, else the `default` profile, else None."""
        if requested in self.profiles:
            return requested
        return DEFAULT_MODEL if DEFAULT_MODEL in self.profiles else None

    def update(self, name: str, *, fields: Mapping[str, Any]) -> Profile:
        """Merge `fields` into model `name` (created from defaults if new); raises ProfileError."""
        profile = merge_profile(self.profiles.get(name, Profile()), fields=fields)
        self.profiles[name] = profile
        runtime = self.runtimes.get(name)
        if runtime is None:
            self.runtimes[name] = ModelRuntime.for_profile(profile)
        elif FAULT_FIELDS.intersection(fields):
            runtime.rearm(profile)
        return profile

    def restore(self, name: str) -> Profile | None:
        """Model `name` back to its startup profile (removed if it was created at runtime)."""
        startup = self.startup.get(name)
        if startup is None:
            self.profiles.pop(name, None)
            self.runtimes.pop(name, None)
            return None
        self.profiles[name] = startup
        self.runtimes.setdefault(name, ModelRuntime.for_profile(startup)).rearm(startup)
        return startup

    def draw_fault(self, name: str) -> bool:
        """Whether the next request to `name` gets its fault; consumes the fail_count budget."""
        profile = self.profiles[name]
        if profile.fault == "none":
            return False
        runtime = self.runtimes[name]
        faulted, runtime.remaining_faults = decide_fault(
            profile, draw=runtime.rng.random(), remaining=runtime.remaining_faults
        )
        return faulted

    def begin(self, name: str) -> ModelRuntime:
        """Count a request as received and in flight."""
        runtime = self.runtimes[name]
        runtime.arrivals.append(time.monotonic())
        runtime.requests += 1
        runtime.inflight += 1
        runtime.max_inflight = max(runtime.max_inflight, runtime.inflight)
        return runtime

    def record_request(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)

    def recent_requests(self, *, model: str | None, limit: int) -> list[dict[str, Any]]:
        """The last `limit` requests, newest last, optionally only those for `model` (asked or served)."""
        entries = [e for e in self.requests if model is None or model in (e["model"], e["profile"])]
        return entries[-limit:] if limit > 0 else []

    def stats(self) -> dict[str, Any]:
        """Per-model counters for `GET /sim/stats`."""
        models = {
            name: {
                "requests": rt.requests,
                "outcomes": dict(rt.outcomes),
                "inflight": rt.inflight,
                "max_inflight": rt.max_inflight,
                "max_generating": rt.max_generating,
                "max_in_window": rt.max_in_window(self.profiles[name].window_s)
                if name in self.profiles
                else 0,
                "window_s": self.profiles[name].window_s if name in self.profiles else 0,
                "remaining_faults": rt.remaining_faults,
            }
            for name, rt in self.runtimes.items()
        }
        return {"models": models, "unmatched": self.unmatched}


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers as recorded in the log: credentials replaced by a fixed marker."""
    recorded: dict[str, str] = {}
    for key, value in headers.items():
        lower = key.lower()
        if lower in SKIPPED_HEADERS:
            continue
        recorded[lower] = REDACTED if lower in SECRET_HEADERS else value
    return recorded


def make_log_entry(
    request_line: tuple[str, str],
    *,
    model: str,
    profile: str,
    headers: Mapping[str, str],
    body: Any,
) -> dict[str, Any]:
    """One `/sim/requests` entry; `request_line` is (method, path)."""
    method, path = request_line
    stream = bool(body.get("stream")) if isinstance(body, dict) else False
    return {
        "time": time.time(),
        "method": method,
        "path": path,
        "model": model,
        "profile": profile,
        "stream": stream,
        "headers": redact_headers(headers),
        "body": body,
    }
