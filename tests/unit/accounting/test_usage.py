"""cost_usd: tokens x pricing, cached prompt tokens at the cached price, cache writes at theirs."""

from __future__ import annotations

from typing import Any

import pytest

from support.builders import endpoint, resources, route
from switchboard_proxy.accounting.usage import Usage, cost_usd
from switchboard_proxy.config import EndpointConfig, compile


def priced(**pricing: Any) -> EndpointConfig:
    config = compile(resources(endpoint("e", pricing=pricing), route("r", ["e"], default=True)))
    return config.endpoints["e"]


PRICED = {"inputPerMTok": 2.0, "outputPerMTok": 8.0, "cachedInputPerMTok": 0.5, "cacheWritePerMTok": 2.5}


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(Usage(0, 0, 0), 0.0, id="nothing"),
        pytest.param(Usage(1_000_000, 0, 0), 2.0, id="prompt-only"),
        pytest.param(Usage(0, 1_000_000, 0), 8.0, id="completion-only"),
        pytest.param(Usage(1000, 500, 0), (1000 * 2 + 500 * 8) / 1e6, id="both"),
        pytest.param(Usage(1000, 500, 400), (600 * 2 + 400 * 0.5 + 500 * 8) / 1e6, id="some-cached"),
        pytest.param(Usage(1000, 0, 1000), 1000 * 0.5 / 1e6, id="all-cached"),
        pytest.param(Usage(100, 0, 500), 100 * 0.5 / 1e6, id="cached-capped-at-prompt"),
        pytest.param(Usage(1000, 0, 0, 200), (800 * 2 + 200 * 2.5) / 1e6, id="cache-write"),
        pytest.param(
            Usage(1000, 10, 600, 300), (100 * 2 + 600 * 0.5 + 300 * 2.5 + 10 * 8) / 1e6, id="read-and-write"
        ),
        pytest.param(Usage(100, 0, 80, 500), (80 * 0.5 + 20 * 2.5) / 1e6, id="write-capped-at-the-rest"),
    ],
)
def test_cost_usd(usage: Usage, expected: float) -> None:
    assert cost_usd(priced(**PRICED), usage) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_cached_tokens_default_to_the_input_price() -> None:
    endpoint_config = priced(inputPerMTok=3.0, outputPerMTok=6.0)
    assert cost_usd(endpoint_config, Usage(1000, 0, 600)) == pytest.approx(1000 * 3.0 / 1e6)


def test_free_endpoint_costs_nothing() -> None:
    assert cost_usd(priced(), Usage(10**9, 10**9, 10**8)) == 0.0


def test_cache_writes_default_to_the_input_price() -> None:
    endpoint_config = priced(inputPerMTok=3.0, outputPerMTok=6.0)
    assert endpoint_config.cache_write_per_mtok_usd == 3.0
    assert cost_usd(endpoint_config, Usage(1000, 0, 0, 400)) == pytest.approx(1000 * 3.0 / 1e6)


def test_the_cached_token_share_per_endpoint_comes_from_the_token_counters() -> None:
    from support.stack import read_metric
    from switchboard_proxy.accounting.metrics import Metrics

    metrics = Metrics()
    for route_name, prompt, cached in (("r1", 100, 40), ("r2", 300, 60)):
        metrics.tokens.labels(route_name, "e", "prompt").inc(prompt)
        metrics.tokens.labels(route_name, "e", "cached").inc(cached)
    metrics.tokens.labels("r1", "idle", "completion").inc(5)
    text = metrics.exposition().decode()
    assert read_metric(text, "switchboard_cached_token_share", endpoint="e") == pytest.approx(0.25)
    assert 'switchboard_cached_token_share{endpoint="idle"}' not in text  # no prompt tokens, no share
