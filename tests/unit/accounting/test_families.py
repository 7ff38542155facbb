"""The per-request metric families expose exactly what prometheus_client's own would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from switchboard_proxy.accounting.families import Families

BUCKETS = (0.01, 0.1, 1.0)


def exposition(registry: CollectorRegistry) -> set[str]:
    lines = generate_latest(registry).decode().splitlines()
    return {line for line in lines if line and not line.startswith("#") and "_created" not in line}


def test_counters_and_histograms_match_prometheus_client() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    families = Families()
    ours.register(families)
    fast_counter = families.counter("demo_requests_total", "doc", ["route", "code"])
    fast_histogram = families.histogram("demo_seconds", "doc", ["route"], buckets=BUCKETS)
    counter = Counter("demo_requests_total", "doc", ["route", "code"], registry=theirs)
    histogram = Histogram("demo_seconds", "doc", ["route"], buckets=BUCKETS, registry=theirs)
    for route, code, seconds in [
        ("a", "200", 0.005),
        ("a", "200", 0.1),
        ("b", "503", 3.0),
        ("a", "200", 0.01),
    ]:
        fast_counter.labels(route, code).inc()
        counter.labels(route, code).inc()
        fast_histogram.labels(route).observe(seconds)
        histogram.labels(route).observe(seconds)
    fast_counter.labels("b", "503").inc(2.5)
    counter.labels("b", "503").inc(2.5)
    assert exposition(ours) == exposition(theirs)


def test_a_bound_is_inclusive_like_prometheus() -> None:
    families = Families()
    child = families.histogram("h", "doc", ["x"], buckets=BUCKETS).labels("x")
    child.observe(0.1)
    assert child.counts == [0, 1, 0, 0]
