"""`Sample`: count, mean and variance of one variant's metric, built from what Prometheus keeps.

- rates (errors, fallbacks, truncations) are Bernoulli: a count and how many of them were hits;
- feedback scores come as a histogram, whose bucket midpoints give the mean and variance (plus
  Sheppard's correction for the width of the buckets);
- latency p95 is compared as the share of requests slower than a threshold (the control's p95 bucket
  bound), which is Bernoulli again: a quantile itself has no simple sequential test;
- cost per request has only a sum and a count in Prometheus, so its spread is assumed, not measured
  (`with_spread`: a coefficient of variation the caller chooses, 1 by default in the operator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

Z95 = 1.959964  # two-sided 95% normal quantile


class Sample(NamedTuple):
    """n observations with their mean and (population) variance."""

    size: float
    mean: float
    variance: float

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.variance / self.size) if self.size > 0 else math.inf


EMPTY = Sample(0.0, 0.0, 0.0)


def bernoulli(hits: float, count: float) -> Sample:
    """A rate: `hits` of `count`."""
    if count <= 0:
        return EMPTY
    p = min(max(hits / count, 0.0), 1.0)
    return Sample(count, p, p * (1 - p))


def with_spread(total: float, count: float, *, coefficient_of_variation: float) -> Sample:
    """A mean known only through its sum, with an assumed spread (variance = (cv x mean)^2)."""
    if count <= 0:
        return EMPTY
    mean = total / count
    return Sample(count, mean, (coefficient_of_variation * mean) ** 2)


def from_histogram(bounds: Sequence[float], cumulative: Sequence[float], *, low: float = 0.0) -> Sample:
    """Mean and variance of a Prometheus histogram (cumulative counts per upper bound, +Inf last).

    Each bucket's observations sit at its midpoint; the +Inf bucket at the last finite bound. Sheppard's
    correction (width^2 / 12 per bucket) puts back the spread inside a bucket.
    """
    count = cumulative[-1] if cumulative else 0.0
    if count <= 0:
        return EMPTY
    first, second, inside, below, previous = 0.0, 0.0, 0.0, low, 0.0
    for bound, running in zip(bounds, cumulative, strict=False):
        n = running - previous
        top = bound if math.isfinite(bound) else below
        mid = (below + top) / 2
        first += n * mid
        second += n * mid * mid
        inside += n * (top - below) ** 2 / 12
        below, previous = top, running
    mean = first / count
    return Sample(count, mean, max(second / count - mean * mean, 0.0) + inside / count)


def share_above(bounds: Sequence[float], cumulative: Sequence[float], threshold: float) -> Sample:
    """The share of a histogram's observations above `threshold` (rounded to a bucket bound)."""
    count = cumulative[-1] if cumulative else 0.0
    at_or_below = 0.0
    for bound, running in zip(bounds, cumulative, strict=False):
        if bound <= threshold + 1e-12:
            at_or_below = running
    return bernoulli(count - at_or_below, count)


def quantile(bounds: Sequence[float], cumulative: Sequence[float], q: float) -> float | None:
    """The q-quantile of a histogram, interpolated within its bucket like PromQL's histogram_quantile."""
    count = cumulative[-1] if cumulative else 0.0
    if count <= 0:
        return None
    rank, below, previous = q * count, 0.0, 0.0
    for bound, running in zip(bounds, cumulative, strict=False):
        if running >= rank:
            if not math.isfinite(bound):
                return below  # in the +Inf bucket: the highest finite bound is all that is known
            inside = running - previous
            return below + (bound - below) * ((rank - previous) / inside if inside else 1.0)
        below, previous = bound, running
    return below


def mean_interval(sample: Sample, *, z: float = Z95) -> tuple[float, float]:
    """A fixed-sample confidence interval of the mean (Wilson's for a rate-like variance p(1-p))."""
    if sample.size <= 0:
        return (math.nan, math.nan)
    n, p = sample.size, sample.mean
    if 0.0 <= p <= 1.0 and abs(sample.variance - p * (1 - p)) < 1e-12:
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))
    half = z * sample.standard_error
    return (p - half, p + half)
