"""A short 10x spike (the full one is `make spike`): critical work is served within its deadline while
sheddable work is refused, no answer comes after its deadline, and the sidecar's memory stays put.
Three routes share one switchboard-sim endpoint with a fixed capacity (latency rises past it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.spike import DEADLINES_MS, SpikeConfig, SpikeResult, run_spike

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

SHORT = SpikeConfig(baseline_seconds=3.0, spike_seconds=5.0, tail_seconds=4.0)


def test_a_10x_spike_keeps_critical_within_its_deadline(tmp_path: Path) -> None:
    result = run_spike(SHORT, tmp_path)
    critical = result.of("critical", "spike")
    served = [o.seconds for o in critical if o.status == 200]
    assert SpikeResult.success_rate(critical) >= 0.99, {o.status for o in critical}
    assert SpikeResult.quantile(served, 0.99) <= DEADLINES_MS["critical"] / 1000
    sheddable = result.of("sheddable", "spike")
    refused = sum(o.status == 503 for o in sheddable)
    assert refused > 0.5 * len(sheddable)  # shed first
    # The sidecar's own log agrees, and it refuses without waiting for anything (generous bound: the
    # figure the benchmark reports is the p99, which is not a test assertion on two shared cores).
    assert len(result.sidecar_refusal_ms) >= refused
    assert SpikeResult.quantile(result.sidecar_refusal_ms, 0.5) < 100
    # Generous slack: the load generator shares two cores with the sidecar and the sim.
    assert result.overruns(slack=0.25) == []
    assert result.rss_after_kib - result.rss_before_kib < 50 * 1024
