"""Cost = tokens from the upstream's usage x the serving endpoint's pricing, per request and in metrics."""

from __future__ import annotations

import pytest
from chains import HELLO, ROUTE, chain_documents

pytestmark = pytest.mark.integration


def test_json_cost_header_uses_the_serving_endpoints_pricing(make_stack) -> None:
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        ["backup"],
        endpoint_specs={
            "primary": {"pricing": {"inputPerMTok": 100.0, "outputPerMTok": 100.0}},
            "backup": {"pricing": {"inputPerMTok": 3.0, "outputPerMTok": 15.0}},
        },
    )
    stack = make_stack({"primary": {"fault": "error-500"}, "backup": {"output_tokens": 40}}, documents)
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO)
    usage = raw.parse().usage
    assert usage.completion_tokens == 40 and usage.prompt_tokens > 0
    expected = (usage.prompt_tokens * 3.0 + usage.completion_tokens * 15.0) / 1e6
    assert float(raw.headers["x-switchboard-cost-usd"]) == pytest.approx(expected, abs=1e-8)
    assert stack.metric("switchboard_cost_usd_total", route=ROUTE, endpoint="backup") == pytest.approx(
        expected
    )
    assert stack.metric("switchboard_cost_usd_total", endpoint="primary") == 0
    assert stack.metric("switchboard_tokens_total", endpoint="backup", kind="prompt") == usage.prompt_tokens
    assert stack.metric("switchboard_tokens_total", endpoint="backup", kind="completion") == 40


def test_anthropic_json_cost(make_stack) -> None:
    pricing = {"inputPerMTok": 3.0, "outputPerMTok": 15.0}
    documents = chain_documents(
        make_stack.sim_url,
        ["primary"],
        endpoint_specs={"primary": {"provider": "anthropic", "pricing": pricing}},
    )
    stack = make_stack({"primary": {"output_tokens": 12}}, documents)
    raw = stack.anthropic().messages.with_raw_response.create(model=ROUTE, max_tokens=64, messages=HELLO)
    usage = raw.parse().usage
    expected = (usage.input_tokens * 3.0 + usage.output_tokens * 15.0) / 1e6
    assert usage.output_tokens == 12
    assert float(raw.headers["x-switchboard-cost-usd"]) == pytest.approx(expected, abs=1e-8)
    assert stack.metric("switchboard_cost_usd_total", endpoint="primary") == pytest.approx(expected)
