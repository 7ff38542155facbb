"""`make bench`: switchboard-proxy vs a bare aiohttp pass-through vs no proxy, reported as ratios.

Everything runs on 127.0.0.1 and is started here: switchboard-sim (the upstream), the sidecar with a
minimal route to it, the ~40-line aiohttp pass-through (bench/passthrough.py, the fair baseline for "a
Python proxy") and the load generator in its own process (bench/loadgen.py). With two or more CPUs the
sidecar and the pass-through run on the second CPU and everything else on the first, so the proxies under
test never compete with the load for a core.

LiteLLM's proxy, the peer, is a fourth target in the same run (bench/peers.py; --no-peer leaves it out).
Phases, in one run: 1. added latency at fixed rates; 2. streaming time-to-first-byte overhead;
3. saturated throughput; 4. CPU per 1,000 requests; 5. RSS after many requests; 6. profiles of the
sidecar under load.
Results: a table on stdout, bench/results/latest.json and bench/results/latest.md (git-ignored).
Exit status: 0 when every phase ran (1 with --strict when an acceptance check fails), 1 on errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import phases
import profiling
from driver import LoadGenerator
from procstat import Cores, background_busy, choose_cores
from report import acceptance, markdown
from targets import REPO, Targets, running_targets

RESULTS = REPO / "bench" / "results"
ERROR_SHARE_MAX = 0.01  # a phase with more failed requests than this did not measure what it claims


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases for a smoke test (under a minute)")
    parser.add_argument(
        "--requests-for-rss",
        type=int,
        metavar="N",
        help="requests sent before reading the proxy's RSS (default 100000; 5000 with --quick)",
    )
    parser.add_argument("--concurrency", type=int, help="connections for the closed-loop phases (default 32)")
    parser.add_argument(
        "--profiler",
        choices=["auto", "pyinstrument", "py-spy", "none"],
        default="auto",
        help="auto: pyinstrument, plus py-spy when it is installed (default auto)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=RESULTS,
        help=f"where results go (default {RESULTS.relative_to(REPO)})",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when an acceptance check is not met")
    parser.add_argument(
        "--no-peer",
        action="store_true",
        help="leave out the LiteLLM proxy (installed on first use by bench/litellm/install.sh)",
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        metavar="DIR",
        help="also measure the sidecar of another source tree (e.g. `git archive main | tar -x -C DIR`), "
        "on this virtualenv, with proxy / baseline ratios: an A/B of a change in the same run",
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> phases.BenchConfig:
    config = phases.QUICK if args.quick else phases.BenchConfig()
    if args.requests_for_rss is not None:
        config = dataclasses.replace(config, rss_requests=args.requests_for_rss)
    if args.concurrency is not None:
        config = dataclasses.replace(config, concurrency=args.concurrency)
    return config


def meta(args: argparse.Namespace, config: phases.BenchConfig, cores: Cores) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "mode": "quick" if args.quick else "full",
        "cores": cores.describe(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "config": dataclasses.asdict(config),
        "baseline_src": str(args.baseline_src) if args.baseline_src else None,
    }


def run_phases(args: argparse.Namespace, config: phases.BenchConfig, cores: Cores) -> dict[str, Any]:
    """Every phase against one set of processes; returns the results document."""
    results: dict[str, Any] = {"meta": meta(args, config, cores)}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="switchboard-bench-") as work,
        running_targets(Path(work), cores, peer=not args.no_peer, baseline=args.baseline_src) as targets,
    ):
        gen = LoadGenerator(cores.load)
        try:
            steps = [
                ("latency", "1/6 added latency at fixed rates", phases.latency),
                ("ttfb", "2/6 streaming time to first byte", phases.ttfb),
                (
                    "throughput",
                    "3/6 saturated throughput",
                    partial(phases.throughput, proxy_cores=cores.proxy),
                ),
                ("cpu", "4/6 CPU per 1,000 requests", phases.cpu_per_1000),
            ]
            for key, title, phase in steps:
                _announce(title)
                results[key] = phase(gen, targets, config)
            _announce(f"5/6 RSS after {config.rss_requests:,} requests")
            results["rss"] = phases.rss(gen, targets, config)
            _announce("6/6 profiles")
            results["profiles"] = profiles(args, gen, targets, config, cores)
        finally:
            gen.close()
    return results


def profiles(
    args: argparse.Namespace, gen: LoadGenerator, targets: Targets, config: phases.BenchConfig, cores: Cores
) -> list[dict[str, Any]]:
    """py-spy on the sidecar and the pass-through (when installed), and pyinstrument on a second sidecar."""
    found: list[dict[str, Any]] = []
    if args.profiler in ("auto", "py-spy"):
        if profiling.pyspy_executable() is None:
            if args.profiler == "py-spy":
                raise SystemExit("py-spy is not installed (.venv/bin/pip install py-spy)")
            print("py-spy is not installed; profiling with pyinstrument only", file=sys.stderr)
        else:
            try:
                for target in ("proxy", "passthrough"):
                    found.append(
                        profiling.pyspy_profile(gen, targets, config, args.output_dir, target=target)
                    )
            except RuntimeError as exc:  # e.g. ptrace not permitted in this container
                if args.profiler == "py-spy":
                    raise
                found = []
                print(f"{exc}; profiling with pyinstrument only", file=sys.stderr)
    if args.profiler in ("auto", "pyinstrument"):
        found.append(profiling.pyinstrument_profile(gen, targets, config, cores, args.output_dir))
    return found


def _announce(title: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {title}", file=sys.stderr, flush=True)


def failed_requests(results: dict[str, Any]) -> list[str]:
    """Phases whose share of failed requests is above ERROR_SHARE_MAX."""
    counts: list[tuple[str, int, int]] = []  # (where, failed, succeeded)
    for name in ("ttfb", "throughput", "cpu"):
        for target, data in results.get(name, {}).get("targets", {}).items():
            counts.append((f"{name}/{target}", data["errors"], data.get("n", data.get("completed", 0))))
    for rate, section in results.get("latency", {}).items():
        for target, data in section["targets"].items():
            counts.append((f"latency@{rate}/{target}", data["errors"], data["n"]))
    if "rss" in results:
        counts.append(("rss/proxy", results["rss"]["errors"], results["rss"]["requests"]))
    # The peer timing out at a rate it cannot sustain is a measurement (in its table), not a broken run.
    return [
        f"{where}: {failed} of {failed + done} requests failed"
        for where, failed, done in counts
        if failed > ERROR_SHARE_MAX * max(1, failed + done) and not where.endswith("/litellm")
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from(args)
    cores = choose_cores()
    os.sched_setaffinity(0, cores.load or os.sched_getaffinity(0))  # children (sim, loadgen) inherit it
    background = background_busy(cores.load | cores.proxy or set(os.sched_getaffinity(0)))
    started = time.monotonic()
    results = run_phases(args, config, cores)
    results["meta"]["background_busy"] = {str(cpu): share for cpu, share in background.items()}
    results["acceptance"] = acceptance(results)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    text = markdown(results)
    (args.output_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.output_dir / "latest.md").write_text(text + "\n")
    print(text)
    print(f"\n{results['meta']['seconds']} s; written to {args.output_dir}/latest.json and latest.md")
    problems = failed_requests(results)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    missed = [c["check"] for c in results["acceptance"] if not c["met"]]
    if missed:
        print("acceptance not met: " + "; ".join(missed), file=sys.stderr)
    return 1 if problems or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
