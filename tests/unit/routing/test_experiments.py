"""assign_variant / bucket_of: deterministic, sticky, weight-true and identical in every process."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from collections import Counter

import pytest

from support.builders import compile_config, endpoint, route
from switchboard_proxy.config import RouteConfig
from switchboard_proxy.routing import experiments
from switchboard_proxy.routing.experiments import BUCKETS, assign_variant, bucket_of

N_KEYS = 20_000
KEYS = [f"user-{i}" for i in range(N_KEYS)]

# Upper 0.9999 quantiles of chi-square with 1..7 degrees of freedom: a correct hash fails 1 in 10,000.
CHI2_9999 = {1: 15.14, 2: 18.42, 3: 21.11, 4: 23.51, 5: 25.74, 6: 27.86, 7: 29.88}


def experiment_route(weights: list[int], *, name: str = "r", experiment: str = "exp") -> RouteConfig:
    variants = [{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)]
    config = compile_config(
        endpoint("e"),
        route(name, targets=[{"endpoint": "e"}], experiment={"name": experiment, "variants": variants}),
    )
    return config.routes[name]


def plain_route() -> RouteConfig:
    return compile_config(endpoint("e"), route("r", targets=[{"endpoint": "e"}])).routes["r"]


def test_route_without_experiment_has_one_default_variant() -> None:
    plain = plain_route()
    assert [v.name for v in plain.variants] == ["default"]
    assert {assign_variant(plain, key).name for key in KEYS[:100]} == {"default"}
    assert assign_variant(plain, "k", stopped=frozenset({"default"})).name == "default"


def test_bucket_is_sha256_of_route_experiment_key() -> None:
    # The contract across sidecar versions: changing this reshuffles every running experiment.
    for key in ["", "alice", "ünïcode", "a\x00b"]:
        digest = hashlib.sha256(f"r\x00exp\x00{key}".encode()).digest()
        assert bucket_of("r", "exp", key) == int.from_bytes(digest[:8], "big") % BUCKETS


def test_bucket_is_in_range_and_deterministic() -> None:
    buckets = [bucket_of("r", "exp", key) for key in KEYS[:2000]]
    assert all(0 <= b < BUCKETS for b in buckets)
    assert buckets == [bucket_of("r", "exp", key) for key in KEYS[:2000]]


@pytest.mark.parametrize(
    ("weights", "bucket", "variant"),
    [
        pytest.param([50, 50], 0, "v0", id="first-bucket"),
        pytest.param([50, 50], 4999, "v0", id="last-bucket-of-control"),
        pytest.param([50, 50], 5000, "v1", id="first-bucket-of-candidate"),
        pytest.param([50, 50], 9999, "v1", id="last-bucket"),
        pytest.param([20, 30, 50], 1999, "v0", id="three-way-end-of-first"),
        pytest.param([20, 30, 50], 2000, "v1", id="three-way-start-of-second"),
        pytest.param([20, 30, 50], 4999, "v1", id="three-way-end-of-second"),
        pytest.param([20, 30, 50], 5000, "v2", id="three-way-start-of-third"),
        pytest.param([0, 100], 0, "v1", id="zero-weight-first-never-chosen"),
        pytest.param([100, 0], 9999, "v0", id="zero-weight-last-never-chosen"),
        pytest.param([40, 0, 60], 4000, "v2", id="zero-weight-middle-skipped"),
        pytest.param([1, 99], 99, "v0", id="one-percent"),
        pytest.param([1, 99], 100, "v1", id="after-one-percent"),
    ],
)
def test_bucket_to_variant_boundaries(
    monkeypatch: pytest.MonkeyPatch, weights: list[int], bucket: int, variant: str
) -> None:
    monkeypatch.setattr(experiments, "bucket_of", lambda route, experiment, key: bucket)
    assert assign_variant(experiment_route(weights), "any").name == variant


def test_assignment_is_sticky() -> None:
    r = experiment_route([50, 50])
    first = [assign_variant(r, key).name for key in KEYS[:500]]
    assert first == [assign_variant(r, key).name for key in KEYS[:500]]
    assert set(first) == {"v0", "v1"}


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param([50, 50], id="50-50"),
        pytest.param([90, 10], id="90-10"),
        pytest.param([1, 99], id="1-99"),
        pytest.param([20, 30, 50], id="20-30-50"),
        pytest.param([10, 0, 90], id="with-zero"),
        pytest.param([25, 25, 25, 25], id="four-way"),
        pytest.param([5, 10, 15, 20, 50], id="five-way"),
    ],
)
def test_distribution_matches_weights(weights: list[int]) -> None:
    r = experiment_route(weights)
    counts = Counter(assign_variant(r, key).name for key in KEYS)
    chi2 = 0.0
    for i, weight in enumerate(weights):
        p = weight / 100
        observed = counts[f"v{i}"]
        if p == 0:
            assert observed == 0
            continue
        expected = N_KEYS * p
        sd = math.sqrt(N_KEYS * p * (1 - p))
        assert abs(observed - expected) <= 4 * sd + 1e-9, (f"v{i}", observed, expected)
        chi2 += (observed - expected) ** 2 / expected
    degrees = sum(1 for w in weights if w) - 1
    if degrees:
        assert chi2 < CHI2_9999[degrees]


def test_buckets_are_uniform() -> None:
    # 20 bins of 500 buckets each: chi-square with 19 degrees of freedom, 0.9999 quantile 49.0.
    bins = Counter(bucket_of("r", "exp", key) * 20 // BUCKETS for key in KEYS)
    expected = N_KEYS / 20
    assert sum((bins[b] - expected) ** 2 / expected for b in range(20)) < 49.0


@pytest.mark.parametrize(
    ("weights", "stopped", "mapping"),
    [
        pytest.param([50, 50], {"v1"}, {"v0": "v0", "v1": "v0"}, id="candidate-stopped-goes-to-control"),
        pytest.param([50, 50], {"v0"}, {"v0": "v1", "v1": "v1"}, id="control-stopped-goes-to-first-running"),
        pytest.param(
            [20, 30, 50],
            {"v0", "v1"},
            {"v0": "v2", "v1": "v2", "v2": "v2"},
            id="two-stopped-first-running-is-last",
        ),
        pytest.param([20, 30, 50], {"v1"}, {"v0": "v0", "v1": "v0", "v2": "v2"}, id="middle-stopped"),
        pytest.param([50, 50], {"v0", "v1"}, {"v0": "v0", "v1": "v0"}, id="all-stopped-control"),
        pytest.param([50, 50], {"not-a-variant"}, {"v0": "v0", "v1": "v1"}, id="unknown-stopped-name"),
        pytest.param([50, 50], set(), {"v0": "v0", "v1": "v1"}, id="nothing-stopped"),
    ],
)
def test_stopped_variants_fall_back_to_first_running(
    weights: list[int], stopped: set[str], mapping: dict[str, str]
) -> None:
    r = experiment_route(weights)
    for key in KEYS[:1000]:
        unstopped = assign_variant(r, key).name
        assert assign_variant(r, key, stopped=frozenset(stopped)).name == mapping[unstopped], key


_CHILD = """
import json, sys
from switchboard_proxy.config import parse_router_config
from switchboard_proxy.routing.experiments import assign_variant, bucket_of
data = json.loads(sys.stdin.read())
route = parse_router_config(data["config"]).routes["r"]
print(json.dumps({
    "hash_probe": hash("switchboard"),
    "variants": [assign_variant(route, key).name for key in data["keys"]],
    "buckets": [bucket_of("r", "exp", key) for key in data["keys"]],
}))
"""


def test_assignment_is_identical_in_other_processes() -> None:
    config = compile_config(
        endpoint("e"),
        route(
            "r",
            targets=[{"endpoint": "e"}],
            experiment={
                "name": "exp",
                "variants": [{"name": f"v{i}", "weight": w} for i, w in enumerate([20, 30, 50])],
            },
        ),
    )
    keys = KEYS[:200]
    expected_variants = [assign_variant(config.routes["r"], key).name for key in keys]
    expected_buckets = [bucket_of("r", "exp", key) for key in keys]
    payload = json.dumps({"config": config.model_dump_json(), "keys": keys})
    probes = set()
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=payload,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        child = json.loads(result.stdout)
        assert child["variants"] == expected_variants, seed
        assert child["buckets"] == expected_buckets, seed
        probes.add(child["hash_probe"])
    assert len(probes) == 3  # the children really had differently salted hash()


def _pearson(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(("r", "exp-a"), ("r", "exp-b"), id="two-experiments-one-route"),
        pytest.param(("r1", "exp"), ("r2", "exp"), id="same-experiment-name-two-routes"),
    ],
)
def test_buckets_of_two_experiments_are_uncorrelated(first: tuple[str, str], second: tuple[str, str]) -> None:
    xs = [bucket_of(*first, key) for key in KEYS]
    ys = [bucket_of(*second, key) for key in KEYS]
    # Under independence r ~ N(0, 1/n): 4 standard deviations.
    assert abs(_pearson(xs, ys)) < 4 / math.sqrt(N_KEYS)


def test_assignments_of_two_experiments_are_independent() -> None:
    a = experiment_route([50, 50], experiment="exp-a")
    b = experiment_route([50, 50], experiment="exp-b")
    joint = Counter((assign_variant(a, key).name, assign_variant(b, key).name) for key in KEYS)
    rows = Counter(x for x, _ in joint.elements())
    cols = Counter(y for _, y in joint.elements())
    chi2 = 0.0
    for x in ("v0", "v1"):
        for y in ("v0", "v1"):
            expected = rows[x] * cols[y] / N_KEYS
            chi2 += (joint[(x, y)] - expected) ** 2 / expected
    assert chi2 < CHI2_9999[1]
    # Being in the candidate of one experiment says nothing about the other.
    assert abs(joint[("v1", "v1")] / rows["v1"] - 0.5) < 4 * math.sqrt(0.25 / rows["v1"])
