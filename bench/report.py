"""The verdict and the tables: acceptance checks on the ratios, and markdown ready for bench/README.md.

The acceptance criteria are relative (proxy vs pass-through) or small absolute overheads, because
only those are stable on a noisy machine; the absolute numbers are printed for context.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

LATENCY_RATIO_MAX = 1.25  # proxy-added p50 at 200 req/s <= 1.25 x the pass-through's added p50
CPU_RATIO_MAX = 1.5  # the sidecar's CPU per request <= 1.5 x the pass-through's
TTFB_OVERHEAD_P99_MAX_MS = 2.0
THROUGHPUT_RATIO_MIN = 0.7
RSS_MAX_MB = 80.0
GENERATOR_LAG_MS = 2.0  # an open-loop generator later than this at p99 was itself short of CPU
NOISY_CORE = 0.15  # other processes using more of a core than this make the timings less reliable
TARGET_NAMES = {
    "direct": "direct (no proxy)",
    "passthrough": "bare aiohttp pass-through",
    "proxy": "switchboard-proxy",
    "baseline": "switchboard-proxy, baseline source",
    "litellm": "LiteLLM proxy (1 worker)",
}


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def acceptance(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per criterion of the issue: measured value, threshold, met."""
    checks: list[dict[str, Any]] = []
    latency = results.get("latency", {}).get("200")
    if latency is not None:
        name = "added latency p50 @200 req/s, proxy / pass-through"
        checks.append(_check(name, latency["ratio_p50"], "<=", LATENCY_RATIO_MAX))
    if "cpu" in results:
        checks.append(
            _check("CPU per request, proxy / pass-through", results["cpu"]["ratio"], "<=", CPU_RATIO_MAX)
        )
    if "ttfb" in results:
        value = results["ttfb"]["targets"]["proxy"]["added_p99_ms"]
        checks.append(_check("streaming TTFB overhead p99 (ms)", value, "<", TTFB_OVERHEAD_P99_MAX_MS))
    if "throughput" in results:
        value = results["throughput"]["ratio"]
        checks.append(_check("saturated req/s, proxy / pass-through", value, ">=", THROUGHPUT_RATIO_MIN))
    if "rss" in results:
        name = f"proxy RSS after {results['rss']['requests']:,} requests (MiB)"
        checks.append(_check(name, results["rss"]["proxy_rss_after_mb"], "<", RSS_MAX_MB))
    return checks


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
}


def _check(name: str, value: float | None, comparison: str, limit: float) -> dict[str, Any]:
    met = value is not None and _COMPARISONS[comparison](value, limit)
    return {"check": name, "value": value, "threshold": f"{comparison} {limit:g}", "met": met}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _comparison(section: dict[str, Any], unit: str) -> list[list[str]]:
    rows = []
    for name, data in section["targets"].items():
        added = (
            [_fmt(data.get("added_p50_ms")), _fmt(data.get("added_p99_ms"))]
            if name != "direct"
            else ["-", "-"]
        )
        errors = str(data["errors"]) + (f" ({data['first_error'][:60]})" if data["errors"] else "")
        rows.append(
            [TARGET_NAMES[name], str(data["n"]), _fmt(data["p50_ms"]), _fmt(data["p99_ms"]), *added, errors]
        )
    # (label, key) of each ratio row present: p50 and p99 of what one target adds over another's.
    ratios = [
        ("proxy-added / pass-through-added", "ratio"),
        ("proxy-added / baseline-added", "proxy_vs_baseline"),
        ("LiteLLM-added / proxy-added", "litellm_vs_proxy"),
    ]
    for label, key in ratios:
        if f"{key}_p50" in section:
            p50, p99 = _fmt(section[f"{key}_p50"]), _fmt(section[f"{key}_p99"])
            rows.append([f"**ratio {label}** ({unit})", "", "", "", p50, p99, ""])
    return rows


def peer_summary(results: dict[str, Any]) -> list[str]:
    """One line with the ratios Switchboard vs LiteLLM, when the peer ran."""
    latency = results.get("latency", {}).get("200", {})
    if "litellm_vs_proxy_p50" not in latency:
        return []
    parts = [
        f"LiteLLM adds {_fmt(latency['litellm_vs_proxy_p50'])}x the sidecar's added p50 latency at 200 req/s",
        f"{_fmt(results.get('ttfb', {}).get('litellm_vs_proxy_p99'))}x its streaming TTFB overhead at p99",
        f"the sidecar serves {_fmt(results.get('throughput', {}).get('proxy_vs_litellm'))}x LiteLLM's "
        "saturated req/s on one core",
        f"LiteLLM spends {_fmt(results.get('cpu', {}).get('litellm_vs_proxy'))}x its CPU per request",
    ]
    rss = results.get("rss", {})
    if rss.get("litellm_rss_mb"):
        parts.append(f"RSS {rss['proxy_rss_after_mb']:.0f} MiB vs {rss['litellm_rss_mb']:.0f} MiB")
    return ["**Switchboard vs LiteLLM:** " + "; ".join(parts) + ".", ""]


def markdown(results: dict[str, Any]) -> str:
    """All results as markdown tables (the acceptance table first)."""
    meta = results["meta"]
    out = [
        f"Switchboard benchmark, {meta['date']}, commit {meta['commit']}, {meta['mode']} run; "
        f"{meta['cores']}.",
        *([f"Baseline: the sidecar of {meta['baseline_src']}.", ""] if meta.get("baseline_src") else []),
        "",
    ]
    out += _table(
        ["check", "measured", "threshold", "met"],
        [
            [c["check"], _fmt(c["value"]), c["threshold"], "yes" if c["met"] else "**NO**"]
            for c in results["acceptance"]
        ],
    )
    out += noise_warning(results)
    out += peer_summary(results)
    latency_header = ["target", "requests", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "errors"]
    for rate, section in results.get("latency", {}).items():
        out += [f"**1. Non-streamed latency at {rate} req/s** (open loop)", ""]
        out += _table(latency_header, _comparison(section, "latency"))
    if "ttfb" in results:
        out += [
            f"**2. Streaming time to first byte** (open loop, {results['ttfb']['rate']:g} req/s, "
            "upstream TTFT 50 ms)",
            "",
        ]
        header = [
            "target",
            "streams",
            "TTFB p50 ms",
            "TTFB p99 ms",
            "overhead p50 ms",
            "overhead p99 ms",
            "errors",
        ]
        out += _table(header, _comparison(results["ttfb"], "TTFB"))
    if "throughput" in results:
        section = results["throughput"]
        out += [
            f"**3. Saturated throughput** ({section['concurrency']} connections; busy: the serving "
            "process's CPU time / wall time; proxy core: that core's use by every process on the machine)",
            "",
        ]
        rows = [
            [
                TARGET_NAMES[n],
                f"{d['rps']:.0f}",
                f"{d['busy']:.0%}",
                "-" if d.get("core_busy") is None else f"{d['core_busy']:.0%}",
                str(d["errors"]),
            ]
            for n, d in section["targets"].items()
        ]
        rows.append(["**ratio proxy / pass-through**", _fmt(section["ratio"]), "", "", ""])
        if "proxy_vs_baseline" in section:
            rows.append(["**ratio proxy / baseline**", _fmt(section["proxy_vs_baseline"]), "", "", ""])
        if "proxy_vs_litellm" in section:
            rows.append(["**ratio proxy / LiteLLM**", _fmt(section["proxy_vs_litellm"]), "", "", ""])
        out += _table(["target", "req/s", "busy", "proxy core busy", "errors"], rows)
    if "cpu" in results:
        section = results["cpu"]
        out += [
            f"**4. CPU per 1,000 requests** (user+sys of the serving process, "
            f"{section['requests']:,} requests)",
            "",
        ]
        rows = [
            [TARGET_NAMES[n], f"{d['cpu_s_per_1000']:.3f}", str(d["errors"])]
            for n, d in section["targets"].items()
        ]
        rows.append(["**ratio proxy / pass-through**", _fmt(section["ratio"]), ""])
        if "proxy_vs_baseline" in section:
            rows.append(["**ratio proxy / baseline**", _fmt(section["proxy_vs_baseline"]), ""])
        if "litellm_vs_proxy" in section:
            rows.append(["**ratio LiteLLM / proxy**", _fmt(section["litellm_vs_proxy"]), ""])
        out += _table(["serving process", "CPU s / 1,000 req", "errors"], rows)
    if "rss" in results:
        r = results["rss"]
        out += ["**5. Memory**", ""]
        rows = [["switchboard-proxy", f"{r['proxy_rss_before_mb']:.1f}", f"{r['proxy_rss_after_mb']:.1f}"]]
        rows += [
            ["bare aiohttp pass-through", "", f"{r['passthrough_rss_mb']:.1f}"],
            ["switchboard-sim", "", f"{r['sim_rss_mb']:.1f}"],
        ]
        if r.get("litellm_rss_mb") is not None:
            rows.append([TARGET_NAMES["litellm"], "", f"{r['litellm_rss_mb']:.1f}"])
        out += _table(
            [
                "process",
                f"RSS MiB before {r['requests']:,} req",
                f"RSS MiB after ({r['proxy_requests_served_total']:,.0f} served in total)",
            ],
            rows,
        )
    out += profile_tables(results)
    return "\n".join(out)


def noise_warning(results: dict[str, Any]) -> list[str]:
    """A warning when other processes kept the cores busy before the run or during the direct run."""
    seen = {
        f"CPU {cpu} before the run": share
        for cpu, share in results["meta"].get("background_busy", {}).items()
    }
    direct = results.get("throughput", {}).get("targets", {}).get("direct", {})
    if direct.get("core_busy") is not None:
        seen["the proxies' CPU while they were idle (direct throughput run)"] = direct["core_busy"]
    noisy = [f"{where}: {share:.0%}" for where, share in seen.items() if share > NOISY_CORE]
    lag = max(
        (
            t["generator_lag_p99_ms"]
            for s in results.get("latency", {}).values()
            for t in s["targets"].values()
        ),
        default=0.0,
    )
    out = []
    if noisy:
        out += [
            "**Warning: other processes were using the CPUs** (" + "; ".join(noisy) + "). Timings and "
            "throughput are contaminated (CPU per request least); rerun on a quiet machine to confirm.",
            "",
        ]
    if lag > GENERATOR_LAG_MS:
        out += [f"**Warning: the load generator fell behind its schedule** (p99 {lag:.1f} ms late).", ""]
    return out


def profile_tables(results: dict[str, Any]) -> list[str]:
    """py-spy: CPU by package for sidecar vs pass-through (share, and microseconds per request using
    phase 4's CPU per request), the sidecar's top functions; pyinstrument: shares of wall time."""
    profiles = {(p["tool"], p["target"]): p for p in results.get("profiles", [])}
    cpu = results.get("cpu", {}).get("targets", {})
    us = {name: cpu[name]["cpu_s_per_1000"] * 1000 for name in ("proxy", "passthrough") if name in cpu}
    out: list[str] = []
    proxy, passthrough = profiles.get(("py-spy", "proxy")), profiles.get(("py-spy", "passthrough"))
    if proxy is not None and passthrough is not None:
        out += [
            f"**6. Where the CPU goes (py-spy, on-CPU samples under saturation)**: sidecar "
            f"{us.get('proxy', 0):.0f} us/request, pass-through {us.get('passthrough', 0):.0f} us/request "
            "(phase 4); shares from the profiles",
            "",
        ]
        shares = {row["package"]: row["share"] for row in passthrough["by_package"]}
        rows = [
            [
                row["package"],
                *_share_us(row["share"], us.get("proxy")),
                *_share_us(shares.pop(row["package"], 0.0), us.get("passthrough")),
            ]
            for row in proxy["by_package"]
        ]
        rows += [
            [package, "-", "-", *_share_us(share, us.get("passthrough"))] for package, share in shares.items()
        ]
        out += _table(
            ["package", "sidecar share", "sidecar us/req", "pass-through share", "pass-through us/req"], rows
        )
        out += _functions(proxy, "sidecar: top self time", "top_self", us.get("proxy"))
        out += _functions(
            proxy, "sidecar: its own functions, inclusive", "switchboard_inclusive", us.get("proxy")
        )
    wall = profiles.get(("pyinstrument", "proxy"))
    if wall is not None:
        out += [
            f"**6b. pyinstrument** (wall time of a second sidecar, {wall['requests']:,} requests at "
            f"{wall['rps']:.0f} req/s under the profiler; tree in results/profile.txt)",
            "",
        ]
        out += _table(["package", "share"], [[p["package"], f"{p['share']:.1%}"] for p in wall["by_package"]])
        out += _functions(wall, "sidecar: its own functions, inclusive", "switchboard_inclusive", None)
    return out


def _share_us(share: float, per_request_us: float | None) -> list[str]:
    return [f"{share:.1%}", "-" if per_request_us is None else f"{share * per_request_us:.0f}"]


def _functions(profile: dict[str, Any], title: str, key: str, per_request_us: float | None) -> list[str]:
    if per_request_us is None:
        rows = [[f"`{r['function']}`", r["file"], f"{r['share']:.1%}"] for r in profile[key]]
        return _table([title, "file", "share"], rows)
    rows = [[f"`{r['function']}`", r["file"], *_share_us(r["share"], per_request_us)] for r in profile[key]]
    return _table([title, "file", "share", "us/req"], rows)
