"""`make spike`: the 10x spike of tests/support/spike.py at full length, with admission control on and off,
printed as a table (every figure measured in this run; see bench/README.md)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.spike import DEADLINES_MS, ROUTES, SpikeConfig, SpikeResult, run_spike

FULL = SpikeConfig(baseline_seconds=5.0, spike_seconds=10.0, tail_seconds=8.0)


def report(result: SpikeResult) -> None:
    mode = "on" if result.config.admission else "off"
    growth = (result.rss_after_kib - result.rss_before_kib) / 1024
    print(
        f"\nadmission control {mode}: {len(result.outcomes)} requests, RSS growth {growth:.1f} MiB, "
        f"recovery {result.recovery_seconds} s, answers past their deadline: {len(result.overruns())}"
    )
    refusals = result.sidecar_refusal_ms
    print(
        f"sheddable refused by the sidecar itself: {len(refusals)}, in the sidecar p50 "
        f"{SpikeResult.quantile(refusals, 0.5):.2f} ms, p99 {SpikeResult.quantile(refusals, 0.99):.2f} ms"
    )
    print("| route | phase | requests | success % | p50 ms | p99 ms | refusal p99 ms | deadline ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ROUTES:
        for phase in ("baseline", "spike", "tail"):
            outcomes = result.of(name, phase)
            served = [o.seconds * 1000 for o in outcomes if o.status == 200]
            refused = [o.seconds * 1000 for o in outcomes if o.status != 200]
            print(
                f"| {name} | {phase} | {len(outcomes)} | {100 * SpikeResult.success_rate(outcomes):.1f} | "
                f"{SpikeResult.quantile(served, 0.5):.0f} | {SpikeResult.quantile(served, 0.99):.0f} | "
                f"{SpikeResult.quantile(refused, 0.99):.1f} | {DEADLINES_MS[name]} |"
            )


def main() -> int:
    for admission in (True, False):
        config = SpikeConfig(**{**FULL.__dict__, "admission": admission})
        report(run_spike(config, Path(tempfile.mkdtemp(prefix="spike-"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
