"""Samples from counters and histograms, quantiles and fixed-sample intervals."""

from __future__ import annotations

import math
import random

import pytest

from switchboard_proxy.statistics import (
    Sample,
    bernoulli,
    from_histogram,
    mean_interval,
    share_above,
    with_spread,
)
from switchboard_proxy.statistics.samples import quantile

SCORE_BOUNDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, math.inf)


def histogram(values: list[float], bounds: tuple[float, ...] = SCORE_BOUNDS) -> list[float]:
    return [float(sum(v <= b for v in values)) for b in bounds]


def test_bernoulli_mean_and_variance() -> None:
    assert bernoulli(30, 100) == Sample(100, 0.3, pytest.approx(0.21))
    assert bernoulli(0, 0).size == 0


def test_histogram_mean_and_variance_match_the_raw_scores() -> None:
    rng = random.Random(5)
    values = [rng.betavariate(7, 3) for _ in range(20_000)]
    sample = from_histogram(SCORE_BOUNDS, histogram(values))
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    assert sample.size == 20_000
    assert sample.mean == pytest.approx(mean, abs=0.01)
    assert sample.variance == pytest.approx(variance, rel=0.1)


def test_quantile_interpolates_like_histogram_quantile() -> None:
    bounds = (0.1, 0.5, 1.0, math.inf)
    assert quantile(bounds, [0, 50, 100, 100], 0.95) == pytest.approx(0.5 + 0.5 * 0.9)
    assert quantile(bounds, [0, 0, 0, 10], 0.5) == 1.0  # all in +Inf: the last finite bound
    assert quantile(bounds, [0, 0, 0, 0], 0.5) is None


def test_share_above_a_threshold() -> None:
    bounds = (0.1, 0.5, 1.0, math.inf)
    assert share_above(bounds, [10, 60, 90, 100], 0.5) == bernoulli(40, 100)


def test_with_spread_assumes_the_coefficient_of_variation() -> None:
    assert with_spread(2.0, 100, coefficient_of_variation=1.0) == Sample(100, 0.02, pytest.approx(0.0004))


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        pytest.param(bernoulli(5, 100), (0.0215, 0.1118), id="wilson-rate"),
        pytest.param(bernoulli(0, 50), (0.0, 0.0713), id="wilson-zero"),
        pytest.param(Sample(100, 2.0, 4.0), (2.0 - 0.392, 2.0 + 0.392), id="normal-mean"),
    ],
)
def test_fixed_sample_intervals(sample: Sample, expected: tuple[float, float]) -> None:
    assert mean_interval(sample) == pytest.approx(expected, abs=1e-3)
