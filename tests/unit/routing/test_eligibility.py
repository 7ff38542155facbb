"""Eligibility filters `(request, candidates, context) -> (kept, rejections)` and their order."""

from __future__ import annotations

from typing import Any

import pytest

from support.builders import endpoint_config
from switchboard_proxy.config import EndpointConfig
from switchboard_proxy.routing.eligibility import (
    CHECKS,
    FILTERS,
    FilterContext,
    Rejection,
    as_filter,
    check_capability,
    check_circuit,
    check_context_window,
    check_deadline,
    check_limits,
    check_protocol,
    filter_eligible,
)
from switchboard_proxy.routing.protocols import PROTOCOL_APIS, TRANSLATIONS, apis_of, wire_api
from switchboard_proxy.routing.request import RouteRequest
from switchboard_proxy.routing.state import EndpointState, RouterState

ALL_CAPABILITIES = ["tools", "json", "streaming", "vision", "embeddings"]
by_protocol = as_filter(check_protocol)
by_capability = as_filter(check_capability)
by_context_window = as_filter(check_context_window)
by_circuit = as_filter(check_circuit)
by_limits = as_filter(check_limits)
by_deadline = as_filter(check_deadline)
EMBEDDING_MODEL = endpoint_config("e", provider="openai", capabilities=["embeddings"])
OPENAI = endpoint_config("e", provider="openai")
ANTHROPIC = endpoint_config("e", provider="anthropic")
AZURE = endpoint_config("e", provider="azure-openai")


def context(state: dict[str, EndpointState] | None = None, deadline_ms: int = 10_000) -> FilterContext:
    return FilterContext(state=RouterState(endpoints=state or {}), deadline_ms=deadline_ms)


def verdict(result: tuple[list[EndpointConfig], list[Rejection]]) -> tuple[str, str] | None:
    """None when the single candidate was kept, else its (reason, detail)."""
    kept, rejections = result
    assert len(kept) + len(rejections) == 1
    return None if kept else (rejections[0].reason, rejections[0].detail)


# --- protocol -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "candidate", "expected"),
    [
        pytest.param("chat", OPENAI, None, id="chat-openai"),
        pytest.param("chat", AZURE, None, id="chat-azure"),
        pytest.param("chat", ANTHROPIC, None, id="chat-anthropic-translated"),
        pytest.param("completions", OPENAI, None, id="completions-openai"),
        pytest.param("completions", AZURE, None, id="completions-azure"),
        pytest.param(
            "completions", ANTHROPIC, ("protocol", "anthropic cannot serve completions"), id="compl-anth"
        ),
        pytest.param("embeddings", OPENAI, None, id="embeddings-openai"),
        pytest.param("embeddings", AZURE, None, id="embeddings-azure"),
        pytest.param(
            "embeddings", ANTHROPIC, ("protocol", "anthropic cannot serve embeddings"), id="emb-anth"
        ),
        pytest.param("messages", ANTHROPIC, None, id="messages-anthropic"),
        pytest.param("messages", OPENAI, None, id="messages-openai-translated"),
        pytest.param("responses", OPENAI, None, id="responses-openai-translated"),
        pytest.param("responses", ANTHROPIC, None, id="responses-anthropic-translated"),
        pytest.param("messages", AZURE, None, id="messages-azure-translated"),
        pytest.param(
            "responses", EMBEDDING_MODEL, ("protocol", "an embedding model cannot serve responses"), id="emb"
        ),
    ],
)
def test_by_protocol(api: Any, candidate: EndpointConfig, expected: tuple[str, str] | None) -> None:
    assert verdict(by_protocol(RouteRequest(api=api), [candidate], context())) == expected


def test_every_api_is_served_by_some_protocol() -> None:
    assert set().union(*PROTOCOL_APIS.values()) == {"chat", "completions", "embeddings", "messages"}
    assert {api for table in TRANSLATIONS.values() for api in table} == {"chat", "messages", "responses"}


@pytest.mark.parametrize(
    ("api", "candidate", "expected"),
    [
        pytest.param("chat", OPENAI, "chat", id="chat-openai-native"),
        pytest.param("messages", OPENAI, "chat", id="messages-openai-as-chat"),
        pytest.param("responses", OPENAI, "chat", id="responses-openai-as-chat"),
        pytest.param(
            "responses",
            endpoint_config("e", capabilities=["responses", "streaming"]),
            "responses",
            id="responses-native-with-the-capability",
        ),
        pytest.param("chat", ANTHROPIC, "messages", id="chat-anthropic-as-messages"),
        pytest.param("responses", ANTHROPIC, "messages", id="responses-anthropic-as-messages"),
        pytest.param("messages", ANTHROPIC, "messages", id="messages-anthropic-native"),
        pytest.param("messages", AZURE, "chat", id="messages-azure-as-chat"),
    ],
)
def test_wire_api(api: Any, candidate: EndpointConfig, expected: str) -> None:
    assert wire_api(api, candidate) == expected


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        pytest.param("embeddings", None, id="embeddings"),
        pytest.param("chat", ("protocol", "an embedding model cannot serve chat"), id="chat"),
        pytest.param(
            "completions", ("protocol", "an embedding model cannot serve completions"), id="completions"
        ),
    ],
)
def test_an_embedding_model_serves_only_embeddings(api: Any, expected: tuple[str, str] | None) -> None:
    assert apis_of(EMBEDDING_MODEL) == {"embeddings"}
    assert verdict(by_protocol(RouteRequest(api=api), [EMBEDDING_MODEL], context())) == expected


def test_a_generative_endpoint_that_also_embeds_serves_every_openai_api() -> None:
    both = endpoint_config("e", provider="openai", capabilities=["embeddings", "streaming"])
    assert apis_of(both) == {"chat", "completions", "embeddings", "messages", "responses"}


# --- capability -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needs", "capabilities", "expected"),
    [
        pytest.param(set(), [], None, id="needs-nothing-has-nothing"),
        pytest.param(set(), ALL_CAPABILITIES, None, id="needs-nothing"),
        pytest.param({"tools"}, ["tools"], None, id="exact"),
        pytest.param({"tools", "json"}, ["json", "tools", "streaming"], None, id="superset"),
        pytest.param({"tools"}, ["json"], ("capability", "lacks tools"), id="missing-one"),
        pytest.param(
            {"vision", "json", "tools"}, ["tools"], ("capability", "lacks json, vision"), id="missing-sorted"
        ),
        pytest.param(
            {"streaming"}, ["tools", "json"], ("capability", "lacks streaming"), id="stream-unsupported"
        ),
        pytest.param(
            {"embeddings"}, ["tools", "json", "streaming"], ("capability", "lacks embeddings"), id="emb"
        ),
        pytest.param({"embeddings"}, ["embeddings"], None, id="embeddings-ok"),
        pytest.param({"vision"}, ALL_CAPABILITIES, None, id="vision-ok"),
    ],
)
def test_by_capability(needs: set[str], capabilities: list[str], expected: tuple[str, str] | None) -> None:
    candidate = endpoint_config("e", capabilities=capabilities)
    assert verdict(by_capability(RouteRequest(needs=frozenset(needs)), [candidate], context())) == expected


def test_default_capabilities_are_tools_json_streaming() -> None:
    assert endpoint_config("e").capabilities == ("json", "streaming", "tools")


# --- context window and output cap ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "expected"),
    [
        pytest.param(0, 0, None, id="empty"),
        pytest.param(1000, 0, None, id="prompt-fills-window"),
        pytest.param(1001, 0, ("context-window", "needs ~1001 tokens, window 1000"), id="prompt-over-window"),
        pytest.param(800, 200, None, id="prompt-plus-output-fills-window"),
        pytest.param(
            801, 200, ("context-window", "needs ~1001 tokens, window 1000"), id="prompt-plus-output-over"
        ),
        pytest.param(0, 200, None, id="output-at-cap"),
        pytest.param(0, 201, ("max-output", "max_tokens 201 > 200"), id="output-over-cap"),
        pytest.param(
            900, 300, ("context-window", "needs ~1200 tokens, window 1000"), id="both-over-window-first"
        ),
    ],
)
def test_by_context_window(prompt: int, max_tokens: int, expected: tuple[str, str] | None) -> None:
    candidate = endpoint_config("e", contextWindow=1000, maxOutputTokens=200)
    request = RouteRequest(prompt_tokens=prompt, max_tokens=max_tokens)
    assert verdict(by_context_window(request, [candidate], context())) == expected


# --- circuit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(None, None, id="unknown-endpoint-is-closed"),
        pytest.param(EndpointState(circuit="closed"), None, id="closed"),
        pytest.param(EndpointState(circuit="half-open"), None, id="half-open-kept-for-the-probe"),
        pytest.param(
            EndpointState(circuit="open"), ("circuit-open", "recent consecutive failures"), id="open"
        ),
    ],
)
def test_by_circuit(state: EndpointState | None, expected: tuple[str, str] | None) -> None:
    states = {"e": state} if state else {}
    assert verdict(by_circuit(RouteRequest(), [OPENAI], context(states))) == expected


def test_circuit_of_another_endpoint_does_not_matter() -> None:
    states = {"other": EndpointState(circuit="open")}
    assert verdict(by_circuit(RouteRequest(), [OPENAI], context(states))) is None


# --- limits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limited", "expected"),
    [
        pytest.param("", None, id="not-limited"),
        pytest.param(
            "concurrency-limit", ("concurrency-limit", "per-endpoint limit reached"), id="concurrency"
        ),
        pytest.param("rate-limit", ("rate-limit", "per-endpoint limit reached"), id="rate"),
        pytest.param("token-rate-limit", ("token-rate-limit", "per-endpoint limit reached"), id="tokens"),
    ],
)
def test_by_limits(limited: str, expected: tuple[str, str] | None) -> None:
    states = {"e": EndpointState(limited=limited, inflight=1000)}
    assert verdict(by_limits(RouteRequest(), [OPENAI], context(states))) == expected


def test_inflight_alone_does_not_make_an_endpoint_ineligible() -> None:
    states = {"e": EndpointState(inflight=10_000)}
    assert verdict(by_limits(RouteRequest(), [OPENAI], context(states))) is None


# --- deadline -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "stream", "expected"),
    [
        pytest.param(EndpointState(), False, None, id="unmeasured-is-tried"),
        pytest.param(EndpointState(), True, None, id="unmeasured-stream-is-tried"),
        pytest.param(EndpointState(latency_ms=500), False, None, id="exactly-the-deadline"),
        pytest.param(EndpointState(latency_ms=499.6), False, None, id="just-under"),
        pytest.param(
            EndpointState(latency_ms=500.4),
            False,
            ("deadline", "expected 500 ms > deadline 500 ms"),
            id="just-over",
        ),
        pytest.param(
            EndpointState(latency_ms=2000),
            False,
            ("deadline", "expected 2000 ms > deadline 500 ms"),
            id="slow",
        ),
        pytest.param(EndpointState(latency_ms=2000, ttft_ms=100), True, None, id="stream-uses-ttft"),
        pytest.param(
            EndpointState(latency_ms=100, ttft_ms=900),
            True,
            ("deadline", "expected 900 ms > deadline 500 ms"),
            id="stream-slow-first-token",
        ),
        pytest.param(EndpointState(latency_ms=100, ttft_ms=900), False, None, id="non-stream-ignores-ttft"),
        pytest.param(
            EndpointState(latency_ms=800),
            True,
            ("deadline", "expected 800 ms > deadline 500 ms"),
            id="stream-without-ttft-uses-latency",
        ),
    ],
)
def test_by_deadline(state: EndpointState, stream: bool, expected: tuple[str, str] | None) -> None:
    result = by_deadline(RouteRequest(stream=stream), [OPENAI], context({"e": state}, deadline_ms=500))
    assert verdict(result) == expected


# --- the chain of filters -------------------------------------------------------------------------------


def test_filter_order() -> None:
    assert (
        check_protocol,
        check_capability,
        check_context_window,
        check_circuit,
        check_limits,
        check_deadline,
    ) == CHECKS
    assert len(FILTERS) == len(CHECKS)


BAD_STATE = EndpointState(circuit="open", limited="concurrency-limit", latency_ms=99_999)


@pytest.mark.parametrize(
    ("spec", "state", "reason"),
    [
        pytest.param(
            {"capabilities": ["embeddings"], "contextWindow": 10},
            BAD_STATE,
            "protocol",
            id="protocol-first",
        ),
        pytest.param(
            {"capabilities": [], "contextWindow": 10}, BAD_STATE, "capability", id="capability-second"
        ),
        pytest.param({"contextWindow": 10}, BAD_STATE, "context-window", id="window-third"),
        pytest.param({"maxOutputTokens": 10}, BAD_STATE, "max-output", id="output-cap-third"),
        pytest.param({}, BAD_STATE, "circuit-open", id="circuit-fourth"),
        pytest.param(
            {}, EndpointState(limited="rate-limit", latency_ms=99_999), "rate-limit", id="limits-fifth"
        ),
        pytest.param({}, EndpointState(latency_ms=99_999), "deadline", id="deadline-last"),
        pytest.param({}, EndpointState(), None, id="eligible"),
    ],
)
def test_first_refusal_wins(spec: dict[str, Any], state: EndpointState, reason: str | None) -> None:
    candidate = endpoint_config("e", **spec)
    request = RouteRequest(api="chat", needs=frozenset({"tools"}), prompt_tokens=100, max_tokens=50)
    kept, rejections = filter_eligible(request, [candidate], context({"e": state}, deadline_ms=1000))
    assert [r.reason for r in rejections] == ([reason] if reason else [])
    assert [e.name for e in kept] == ([] if reason else ["e"])


def test_filter_eligible_keeps_order_and_rejects_each_endpoint_once() -> None:
    names = ["a", "b", "c", "d", "e", "f"]
    candidates = [
        endpoint_config("a"),
        endpoint_config("b", capabilities=["json"]),
        endpoint_config("c"),
        endpoint_config("d", capabilities=["embeddings"]),
        endpoint_config("e"),
        endpoint_config("f", contextWindow=10),
    ]
    states = {"c": EndpointState(circuit="open"), "e": EndpointState(circuit="half-open", latency_ms=10)}
    request = RouteRequest(needs=frozenset({"tools"}), prompt_tokens=100)
    kept, rejections = filter_eligible(request, candidates, context(states))
    assert [e.name for e in kept] == ["a", "e"]
    # In candidate order, each with the first check (in CHECKS order) that refused it.
    assert [(r.endpoint, r.reason) for r in rejections] == [
        ("b", "capability"),
        ("c", "circuit-open"),
        ("d", "protocol"),
        ("f", "context-window"),
    ]
    assert sorted([e.name for e in kept] + [r.endpoint for r in rejections]) == names


def test_filter_eligible_of_nothing() -> None:
    assert filter_eligible(RouteRequest(), [], context()) == ([], [])


def test_rejection_str() -> None:
    assert str(Rejection("e", "deadline", "expected 900 ms > deadline 500 ms")) == (
        "e: deadline (expected 900 ms > deadline 500 ms)"
    )


@pytest.mark.parametrize("check", FILTERS, ids=[f.__name__ for f in FILTERS])
def test_every_filter_keeps_an_ordinary_endpoint(check: Any) -> None:
    candidates = [endpoint_config(name) for name in ("x", "y", "z")]
    kept, rejections = check(RouteRequest(), candidates, context())
    assert (kept, rejections) == (candidates, [])
