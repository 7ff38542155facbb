"""The benchmark's verdict: each acceptance check passes on its side of its threshold and fails past it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from report import acceptance


def results(*, latency: float, cpu: float) -> dict[str, Any]:
    return {"latency": {"200": {"ratio_p50": latency}}, "cpu": {"ratio": cpu}}


def verdicts(measured: dict[str, Any]) -> dict[str, bool]:
    return {check["check"]: check["met"] for check in acceptance(measured)}


@pytest.mark.parametrize(
    ("latency", "cpu", "latency_met", "cpu_met"),
    [(1.08, 1.22, True, True), (1.25, 1.5, True, True), (1.3, 1.22, False, True), (1.08, 1.6, True, False)],
)
def test_latency_and_cpu_ratios_against_the_pass_through(
    latency: float, cpu: float, latency_met: bool, cpu_met: bool
) -> None:
    got = verdicts(results(latency=latency, cpu=cpu))
    assert got == {
        "added latency p50 @200 req/s, proxy / pass-through": latency_met,
        "CPU per request, proxy / pass-through": cpu_met,
    }


def test_a_phase_that_did_not_run_has_no_check() -> None:
    assert acceptance({}) == []
