"""The measurement phases. Each drives the load generator against the three targets and returns plain data.

Why ratios: this machine's absolute timings drift from run to run (other tenants, CPU frequency), but
the sidecar, the bare pass-through and the direct path are measured back to back under the same
conditions, so "how much does the sidecar add, compared with what any Python proxy adds" is stable where
"1.9 ms" is not. Latency phases alternate the order of targets between rounds so that a drift during
the phase is shared out instead of landing on one target.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from driver import LoadGenerator
from procstat import core_busy, core_ticks, cpu_seconds, rss_mb
from targets import FAST_BODY, STREAM_BODY, Targets

TARGETS = ("direct", "passthrough", "proxy")  # and "litellm" when the peer runs: Targets.names
REPLY_MARGIN_S = 60.0  # beyond a command's own duration: warm-up plus the slowest request's timeout


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of the phases; every phase is bounded by a request count and a time limit."""

    rates: tuple[float, ...] = (200.0, 50.0)
    latency_seconds: float = 10.0  # per target and rate, split over `rounds`
    rounds: int = 4
    stream_rate: float = 50.0
    stream_seconds: float = 8.0
    concurrency: int = 32
    throughput_seconds: float = 10.0  # per target, split over `rounds`
    cpu_requests: int = 20_000
    rss_requests: int = 100_000
    profile_seconds: float = 10.0
    warmup: int = 200  # unmeasured requests before each measured command


QUICK = BenchConfig(
    latency_seconds=1.5,
    rounds=1,
    stream_seconds=1.5,
    throughput_seconds=1.5,
    cpu_requests=2_000,
    rss_requests=5_000,
    profile_seconds=2.0,
    warmup=50,
)


def quantile(samples: list[float], q: float) -> float:
    """Nearest-rank quantile (0 for no samples)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is not a positive amount."""
    return numerator / denominator if denominator > 0 else None


def _open(
    gen: LoadGenerator, url: str, body: dict[str, Any], *, rate: float, count: int, warmup: int
) -> dict[str, Any]:
    command = {"op": "open", "url": url, "body": body, "rate": rate, "count": count, "warmup": warmup}
    command["stream"] = bool(body.get("stream"))
    return gen.run(command, limit_s=count / rate + REPLY_MARGIN_S)


def _open_rounds(
    gen: LoadGenerator,
    targets: Targets,
    cfg: BenchConfig,
    *,
    body: dict[str, Any],
    rate: float,
    seconds: float,
) -> dict[str, dict[str, Any]]:
    """Open-loop samples per target, pooled over `cfg.rounds` rounds in alternating target order."""
    names = targets.names
    pooled: dict[str, dict[str, Any]] = {
        n: {"latencies_ms": [], "ttfb_ms": [], "errors": 0, "lag_p99_ms": 0.0} for n in names
    }
    count = max(1, round(rate * seconds / cfg.rounds))
    for index in range(cfg.rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            reply = _open(gen, targets.url(name), body, rate=rate, count=count, warmup=cfg.warmup)
            into = pooled[name]
            into["latencies_ms"] += reply["latencies_ms"]
            into["ttfb_ms"] += reply["ttfb_ms"]
            into["errors"] += reply["errors"]
            into["first_error"] = into.get("first_error") or reply["first_error"]
            into["lag_p99_ms"] = max(into["lag_p99_ms"], reply["lag_p99_ms"])
    return pooled


def _compare(samples: dict[str, list[float]], pooled: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Quantiles per target, what each proxy adds over direct, and proxy-added / passthrough-added."""
    result: dict[str, Any] = {"targets": {}}
    for name in samples:
        values = samples[name]
        result["targets"][name] = {
            "n": len(values),
            "p50_ms": quantile(values, 0.50),
            "p99_ms": quantile(values, 0.99),
            "errors": pooled[name]["errors"],
            "first_error": pooled[name].get("first_error", ""),
            "generator_lag_p99_ms": pooled[name]["lag_p99_ms"],
        }
    direct = result["targets"]["direct"]
    for name in samples:
        if name == "direct":
            continue
        own = result["targets"][name]
        own["added_p50_ms"] = own["p50_ms"] - direct["p50_ms"]
        own["added_p99_ms"] = own["p99_ms"] - direct["p99_ms"]
    proxy, passthrough = result["targets"]["proxy"], result["targets"]["passthrough"]
    result["ratio_p50"] = ratio(proxy["added_p50_ms"], passthrough["added_p50_ms"])
    result["ratio_p99"] = ratio(proxy["added_p99_ms"], passthrough["added_p99_ms"])
    if "baseline" in result["targets"]:  # what this sidecar adds, in multiples of what the baseline adds
        baseline = result["targets"]["baseline"]
        result["proxy_vs_baseline_p50"] = ratio(proxy["added_p50_ms"], baseline["added_p50_ms"])
        result["proxy_vs_baseline_p99"] = ratio(proxy["added_p99_ms"], baseline["added_p99_ms"])
    if "litellm" in result["targets"]:  # what LiteLLM adds, in multiples of what the sidecar adds
        litellm = result["targets"]["litellm"]
        result["litellm_vs_proxy_p50"] = ratio(litellm["added_p50_ms"], proxy["added_p50_ms"])
        result["litellm_vs_proxy_p99"] = ratio(litellm["added_p99_ms"], proxy["added_p99_ms"])
    return result


def latency(gen: LoadGenerator, targets: Targets, cfg: BenchConfig) -> dict[str, Any]:
    """1. Added latency of non-streamed calls at fixed request rates (open loop)."""
    results: dict[str, Any] = {}
    for rate in cfg.rates:
        pooled = _open_rounds(gen, targets, cfg, body=FAST_BODY, rate=rate, seconds=cfg.latency_seconds)
        results[f"{rate:g}"] = _compare({n: pooled[n]["latencies_ms"] for n in targets.names}, pooled)
    return results


def ttfb(gen: LoadGenerator, targets: Targets, cfg: BenchConfig) -> dict[str, Any]:
    """2. Time to the first body byte of streamed calls; the sidecar's overhead over direct."""
    pooled = _open_rounds(
        gen, targets, cfg, body=STREAM_BODY, rate=cfg.stream_rate, seconds=cfg.stream_seconds
    )
    result = _compare({n: pooled[n]["ttfb_ms"] for n in targets.names}, pooled)
    result["rate"] = cfg.stream_rate
    return result


def _closed(
    gen: LoadGenerator, url: str, *, concurrency: int, seconds: float, requests: int = 0, warmup: int = 0
) -> dict[str, Any]:
    command = {"op": "closed", "url": url, "body": FAST_BODY, "concurrency": concurrency}
    command |= {"seconds": seconds, "requests": requests, "warmup": warmup}
    return gen.run(command, limit_s=seconds + REPLY_MARGIN_S)


def _process_of(targets: Targets, name: str) -> int:
    return targets.process(name).pid


def throughput(
    gen: LoadGenerator, targets: Targets, cfg: BenchConfig, proxy_cores: set[int]
) -> dict[str, Any]:
    """3. Saturated requests/s at fixed concurrency.

    `busy` is the serving process's CPU time over wall time (near 100% means it was the bottleneck);
    `core_busy` is how busy the proxies' core was, counting every process on the machine: during the
    direct run our proxies are idle, so what it shows there is other tenants' load on that core.
    """
    names = targets.names
    tally = {n: {"completed": 0, "errors": 0, "seconds": 0.0, "cpu_s": 0.0, "core": 0.0} for n in names}
    for index in range(cfg.rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            pid = _process_of(targets, name)
            seconds = cfg.throughput_seconds / cfg.rounds
            _closed(gen, targets.url(name), concurrency=cfg.concurrency, seconds=1, requests=cfg.warmup)
            before, ticks = cpu_seconds(pid), core_ticks(proxy_cores)
            reply = _closed(gen, targets.url(name), concurrency=cfg.concurrency, seconds=seconds)
            tally[name]["cpu_s"] += cpu_seconds(pid) - before
            tally[name]["core"] += core_busy(ticks, core_ticks(proxy_cores)) * reply["seconds"]
            for key in ("completed", "errors", "seconds"):
                tally[name][key] += reply[key]
    result: dict[str, Any] = {"concurrency": cfg.concurrency, "targets": {}}
    for name, seen in tally.items():
        seconds = seen["seconds"] or 1.0
        result["targets"][name] = {
            "rps": seen["completed"] / seconds,
            "completed": seen["completed"],
            "errors": seen["errors"],
            "busy": seen["cpu_s"] / seconds,
            "core_busy": seen["core"] / seconds if proxy_cores else None,
        }
    rps = {n: result["targets"][n]["rps"] for n in names}
    result["ratio"] = ratio(rps["proxy"], rps["passthrough"])
    if "baseline" in rps:
        result["proxy_vs_baseline"] = ratio(rps["proxy"], rps["baseline"])
    if "litellm" in rps:
        result["proxy_vs_litellm"] = ratio(rps["proxy"], rps["litellm"])
    return result


def cpu_per_1000(gen: LoadGenerator, targets: Targets, cfg: BenchConfig) -> dict[str, Any]:
    """4. CPU seconds (user + system) the serving process spends per 1,000 non-streamed requests."""
    result: dict[str, Any] = {"requests": cfg.cpu_requests, "concurrency": cfg.concurrency, "targets": {}}
    for name in targets.names:
        pid = _process_of(targets, name)
        before = cpu_seconds(pid)
        reply = _closed(
            gen, targets.url(name), concurrency=cfg.concurrency, seconds=300, requests=cfg.cpu_requests
        )
        spent = cpu_seconds(pid) - before
        done = reply["completed"]
        result["targets"][name] = {
            "cpu_s_per_1000": spent / done * 1000 if done else 0.0,
            "completed": done,
            "errors": reply["errors"],
        }
    per = {n: result["targets"][n]["cpu_s_per_1000"] for n in targets.names}
    result["ratio"] = ratio(per["proxy"], per["passthrough"])
    if "baseline" in per:
        result["proxy_vs_baseline"] = ratio(per["proxy"], per["baseline"])
    if "litellm" in per:
        result["litellm_vs_proxy"] = ratio(per["litellm"], per["proxy"])
    return result


def rss(gen: LoadGenerator, targets: Targets, cfg: BenchConfig) -> dict[str, Any]:
    """5. Resident memory of the sidecar before and after `cfg.rss_requests` more requests."""
    before = rss_mb(targets.proxy.pid)
    reply = _closed(
        gen, targets.url("proxy"), concurrency=cfg.concurrency, seconds=900, requests=cfg.rss_requests
    )
    return {
        "requests": reply["completed"],
        "proxy_requests_served_total": targets.proxy_requests_served(),
        "errors": reply["errors"],
        "seconds": reply["seconds"],
        "proxy_rss_before_mb": before,
        "proxy_rss_after_mb": rss_mb(targets.proxy.pid),
        "passthrough_rss_mb": rss_mb(targets.passthrough.pid),
        "sim_rss_mb": rss_mb(targets.sim.pid),
        "litellm_rss_mb": _peer_rss_mb(targets),
    }


def _peer_rss_mb(targets: Targets) -> float | None:
    """LiteLLM's RSS; None, said on stderr, when it is not running (it has crashed in CPython, once)."""
    if targets.litellm is None:
        return None
    if not targets.litellm.is_running():
        print(f"LiteLLM exited ({targets.litellm.popen.returncode}): no RSS for it", file=sys.stderr)
        return None
    return rss_mb(targets.litellm.pid)
