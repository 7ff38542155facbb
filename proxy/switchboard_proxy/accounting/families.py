"""Counter and histogram families for the per-request metrics: plain numbers, exported at scrape time.

prometheus_client's own Counter and Histogram take a lock and walk the buckets in Python on every
update, ~1-3 us each, and a request makes a dozen updates. These families keep a child per label set
with a float or a list of bucket counts (a bisect picks the bucket in C) and hand prometheus_client
ready-made families when /metrics is scraped; the exposition is the same. All updates and scrapes run
on the sidecar's one event-loop thread, so no lock is needed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class CounterChild:
    """One label set's value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramChild:
    """One label set's bucket counts (non-cumulative; the last one is +Inf) and sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        """(le, count) pairs as the exposition wants them: cumulative, ending at +Inf."""
        total, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            buckets.append((_le(bound), float(total)))
        return buckets


class CounterFamily:
    """A labelled counter; `name` without the `_total` suffix the exposition adds."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name.removesuffix("_total")
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}

    def labels(self, *values: str) -> CounterChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = CounterChild()
        return child

    def children(self) -> Iterator[tuple[tuple[str, ...], CounterChild]]:
        return iter(list(self._children.items()))

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in self._children.items():
            family.add_metric(list(values), child.value)
        return family


class HistogramFamily:
    """A labelled histogram with fixed bucket bounds."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], *, buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = HistogramChild(self.bounds)
        return child

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in self._children.items():
            family.add_metric(list(values), child.cumulative(), sum_value=child.sum)
        return family


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class Families(Collector):
    """Registered once with prometheus_client's registry; yields every family when scraped."""

    def __init__(self) -> None:
        self.members: list[CounterFamily | HistogramFamily] = []

    def counter(self, name: str, documentation: str, labelnames: Sequence[str]) -> CounterFamily:
        family = CounterFamily(name, documentation, labelnames)
        self.members.append(family)
        return family

    def histogram(
        self, name: str, documentation: str, labelnames: Sequence[str], *, buckets: Sequence[float]
    ) -> HistogramFamily:
        family = HistogramFamily(name, documentation, labelnames, buckets=buckets)
        self.members.append(family)
        return family

    def collect(self) -> Iterator[Metric]:
        for member in self.members:
            yield member.family()
