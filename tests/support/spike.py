"""A traffic spike against a real sidecar in front of a `switchboard-sim` endpoint with a fixed capacity.

Three routes share one endpoint: `critical`, `standard` and `sheddable`, each with its own deadline.
Traffic is an open loop (request i of a route starts at its scheduled time whatever the others do) in
phases: a baseline at 1x the endpoint's capacity, a spike at `spike_factor` x, and a tail at 1x again,
with critical traffic at most `critical_share` of the capacity. The sidecar runs with admission control
(queue + adaptive limit, bounded by maxConcurrency) or without it (no limit at all) for comparison.

`run_spike()` returns per route and phase: answers, success rate, latency quantiles, refusal latency,
deadline overruns; plus the sidecar's RSS before and after and how long latency took to recover. Used
by the short spike test (tests/integration) and the full benchmark (bench/spike.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from support.processes import Process
from support.stack import endpoint, route, start_proxy, start_sim, write_resources

ROUTES = ("critical", "standard", "sheddable")
DEADLINES_MS = {"critical": 2000, "standard": 3000, "sheddable": 1500}


@dataclass(frozen=True)
class SpikeConfig:
    """Sizes of one run; `capacity` requests generate at once in the sim, each `ttft_ms` long."""

    capacity: int = 10
    ttft_ms: int = 200
    baseline_seconds: float = 4.0
    spike_seconds: float = 6.0
    tail_seconds: float = 5.0
    spike_factor: float = 10.0
    critical_share: float = 0.4  # of the capacity, at the peak
    admission: bool = True
    max_concurrency: int = 40  # the ceiling the adaptive limit works under

    @property
    def capacity_per_second(self) -> float:
        return self.capacity * 1000 / self.ttft_ms

    def rates(self, phase: str) -> dict[str, float]:
        """Requests per second per route in `phase` (baseline, spike, tail)."""
        total = self.capacity_per_second * (self.spike_factor if phase == "spike" else 1.0)
        critical = min(self.capacity_per_second * self.critical_share, total * 0.4)
        rest = total - critical
        return {"critical": critical, "standard": rest * 0.4, "sheddable": rest * 0.6}


@dataclass
class Outcome:
    route: str
    phase: str
    started: float  # seconds since the run began
    status: int
    seconds: float
    deadline_seconds: float


@dataclass
class SpikeResult:
    config: SpikeConfig
    outcomes: list[Outcome] = field(default_factory=list)
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    recovery_seconds: float | None = None
    limits_seen: list[int] = field(default_factory=list)
    # How long the sidecar itself took to refuse each sheddable request it refused (its access log's
    # duration_ms): the client-side figure adds the load generator's own delays on the same two cores.
    sidecar_refusal_ms: list[float] = field(default_factory=list)

    def of(self, route_name: str, phase: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.route == route_name and (phase is None or o.phase == phase)]

    @staticmethod
    def success_rate(outcomes: list[Outcome]) -> float:
        return sum(o.status == 200 for o in outcomes) / len(outcomes) if outcomes else 0.0

    @staticmethod
    def quantile(values: list[float], q: float) -> float:
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def overruns(self, slack: float = 0.05) -> list[Outcome]:
        """Answers (served or refused) that came after the request's deadline (plus `slack` seconds)."""
        return [o for o in self.outcomes if o.seconds > o.deadline_seconds + slack]


def documents(sim_url: str, config: SpikeConfig) -> list[dict[str, Any]]:
    limits = {"maxConcurrency": config.max_concurrency} if config.admission else {}
    docs: list[dict[str, Any]] = [endpoint("model", sim_url, model="model", limits=limits)]
    for name in ROUTES:
        docs.append(route(name, ["model"], priority=name, deadlineMs=DEADLINES_MS[name]))
    return docs


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _drive(base_url: str, config: SpikeConfig, result: SpikeResult) -> None:
    phases = [
        ("baseline", config.baseline_seconds),
        ("spike", config.spike_seconds),
        ("tail", config.tail_seconds),
    ]
    schedule: list[tuple[float, str, str]] = []
    offset = 0.0
    for phase, seconds in phases:
        for name, rate in config.rates(phase).items():
            count = int(rate * seconds)
            schedule += [(offset + i / rate, name, phase) for i in range(count)]
        offset += seconds
    schedule.sort()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for at, name, phase in schedule:
            delay = start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(session, base_url, name, phase, at, result)))
        await asyncio.gather(*tasks)


async def _one(
    session: aiohttp.ClientSession, base_url: str, name: str, phase: str, at: float, result: SpikeResult
) -> None:
    body = {"model": name, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    started = time.monotonic()
    try:
        async with session.post(f"{base_url}/v1/chat/completions", json=body) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    seconds = time.monotonic() - started
    result.outcomes.append(Outcome(name, phase, at, status, seconds, DEADLINES_MS[name] / 1000))


def sidecar_refusals_ms(access_log: str, route_name: str = "sheddable") -> list[float]:
    """`duration_ms` of every request of `route_name` the sidecar refused (a 429 or 503 of its own, no
    upstream attempt), from its JSON access log (other output lines are skipped)."""
    found = []
    for text in access_log.splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        if line.get("route") == route_name and line.get("status") in (429, 503) and not line.get("attempts"):
            found.append(float(line["duration_ms"]))
    return found


def recovery_seconds(result: SpikeResult) -> float | None:
    """Seconds after the spike until critical and standard latency (1 s windows, p50) are back within
    1.5x of the baseline's; None if they never were during the tail."""
    config = result.config
    served = [o for o in result.outcomes if o.status == 200 and o.route != "sheddable"]
    base = SpikeResult.quantile([o.seconds for o in served if o.phase == "baseline"], 0.5)
    spike_end = config.baseline_seconds + config.spike_seconds
    tail = [o for o in served if o.phase == "tail"]
    second = 0.0
    while second < config.tail_seconds:
        window = [o.seconds for o in tail if spike_end + second <= o.started < spike_end + second + 1]
        if window and SpikeResult.quantile(window, 0.5) <= 1.5 * base:
            return second
        second += 0.5
    return None


def run_spike(config: SpikeConfig, tmp_path: Path) -> SpikeResult:
    """Start a sim and a sidecar, drive the three phases, stop them; everything measured in this run."""
    sim = start_sim({"model": {"capacity": config.capacity, "ttft_ms": config.ttft_ms}}, tmp_dir=tmp_path)
    proxy: Process | None = None
    try:
        resources = write_resources(
            tmp_path / f"spike-{int(config.admission)}", documents(sim.base_url, config)
        )
        proxy = start_proxy(resources=resources, args=["--drain-seconds", "1"])
        result = SpikeResult(config)
        result.rss_before_kib = rss_kib(proxy.pid)
        asyncio.run(_drive(proxy.base_url, config, result))
        result.rss_after_kib = rss_kib(proxy.pid)
        result.recovery_seconds = recovery_seconds(result)
        proxy.stop()  # flushes the access log
        result.sidecar_refusal_ms = sidecar_refusals_ms(proxy.log_text())
        return result
    finally:
        if proxy is not None:
            proxy.stop()
        sim.stop()
