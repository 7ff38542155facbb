"""Fleet figures of one variant or endpoint with their 95% intervals, from `measuring.VariantData`."""

from __future__ import annotations

from ..config.fleet import Estimate, VariantFigures
from ..statistics import Sample, bernoulli, from_histogram, mean_interval, with_spread
from ..statistics.samples import quantile
from .measuring import VariantData

COST_SPREAD = 1.0  # Prometheus keeps only the cost sum: assume a coefficient of variation of 1
EMPTY = VariantData()


def estimate(sample: Sample) -> Estimate | None:
    if sample.size <= 0:
        return None
    low, high = mean_interval(sample)
    return Estimate(value=round(sample.mean, 6), low=round(low, 6), high=round(high, 6))


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 1) if seconds is not None else None


def figures(name: str, data: VariantData) -> VariantFigures:
    """One variant's fleet-wide figures with their intervals."""
    feedback = from_histogram(data.feedback.bounds, data.feedback.cumulative)
    return VariantFigures(
        name=name,
        requests=round(data.requests),
        error_rate=estimate(bernoulli(data.errors, data.requests)),
        fallback_rate=estimate(bernoulli(data.fallbacks, data.requests)),
        degraded_rate=estimate(bernoulli(data.degraded, data.requests)),
        truncated_rate=estimate(bernoulli(data.truncated, data.finishes)),
        latency_p95_ms=_ms(quantile(data.latency.bounds, data.latency.cumulative, 0.95)),
        ttft_p95_ms=_ms(quantile(data.ttft.bounds, data.ttft.cumulative, 0.95)),
        cost_per_request_usd=estimate(
            with_spread(data.cost_usd, data.requests, coefficient_of_variation=COST_SPREAD)
        ),
        feedback=estimate(feedback),
        feedback_count=round(feedback.size),
    )
