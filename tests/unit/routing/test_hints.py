"""build_route_request: X-Switchboard-* headers and body fields -> RouteRequest (SPEC section 5)."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from switchboard_proxy.routing.hints import (
    DEADLINE_MS,
    MAX_DEADLINE_MS,
    PRIORITY,
    ROUTE,
    TASK,
    USER,
    HintError,
    build_route_request,
    estimate_prompt_tokens,
    parse_deadline,
    parse_priority,
)
from switchboard_proxy.routing.request import RouteRequest, effective_priority

IMAGE_URL = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 400}}


def build(
    body: dict[str, Any] | None = None, headers: dict[str, str] | None = None, api: Any = "chat"
) -> RouteRequest:
    return build_route_request(api, headers or {}, body or {}, request_id="rid-1")


# --- plain fields -------------------------------------------------------------------------------------


def test_empty_request_has_neutral_defaults() -> None:
    assert build() == RouteRequest(api="chat", request_id="rid-1")


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        pytest.param({}, {"model": "chat"}, {"model": "chat"}, id="model"),
        pytest.param({}, {"model": 42}, {"model": ""}, id="non-string-model-ignored"),
        pytest.param({}, {"model": None}, {"model": ""}, id="null-model-ignored"),
        pytest.param({ROUTE: "edit"}, {}, {"route_header": "edit"}, id="route-header"),
        pytest.param({TASK: "completion"}, {}, {"task": "completion"}, id="task-header"),
        pytest.param(
            {}, {"stream": True}, {"stream": True, "needs": frozenset({"streaming"})}, id="stream-true"
        ),
        pytest.param({}, {"stream": "true"}, {"stream": False}, id="stream-string-is-not-true"),
        pytest.param({}, {"stream": 1}, {"stream": False}, id="stream-one-is-not-true"),
        pytest.param({DEADLINE_MS: "250"}, {}, {"deadline_ms": 250}, id="deadline"),
        pytest.param({PRIORITY: "sheddable"}, {}, {"priority": "sheddable"}, id="priority"),
        pytest.param({"X-Other": "x"}, {"unknown": 1}, {}, id="unknown-inputs-ignored"),
    ],
)
def test_fields(headers: dict[str, str], body: dict[str, Any], expected: dict[str, Any]) -> None:
    # Every field not named keeps its default.
    assert build(body, headers) == RouteRequest(request_id="rid-1")._replace(**expected)


@pytest.mark.parametrize("api", ["chat", "completions", "embeddings", "messages"])
def test_api_and_request_id_are_passed_through(api: Any) -> None:
    request = build_route_request(api, {}, {}, request_id="abc")
    assert (request.api, request.request_id) == (api, "abc")


def test_headers_are_read_case_insensitively_from_a_case_insensitive_mapping() -> None:
    headers = CIMultiDict(
        {
            "x-switchboard-route": "edit",
            "X-SWITCHBOARD-TASK": "tab",
            "x-switchboard-deadline-ms": "90",
            "x-switchboard-priority": "standard",
            "x-switchboard-user": "u1",
        }
    )
    request = build_route_request("chat", headers, {}, request_id="r")
    assert (
        request.route_header,
        request.task,
        request.deadline_ms,
        request.priority,
        request.sticky_key,
    ) == (
        "edit",
        "tab",
        90,
        "standard",
        "u1",
    )


# --- prompt token estimate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "body", "tokens"),
    [
        pytest.param("chat", {}, 0, id="nothing"),
        pytest.param(
            "chat", {"messages": [{"role": "user", "content": "abcd"}]}, 1, id="four-chars-one-token"
        ),
        pytest.param("chat", {"messages": [{"role": "user", "content": "abcde"}]}, 2, id="rounds-up"),
        pytest.param("chat", {"messages": [{"role": "user", "content": "a"}]}, 1, id="one-char-one-token"),
        pytest.param(
            "chat",
            {"messages": [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 40}]},
            20,
            id="messages-summed",
        ),
        pytest.param(
            "chat",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "z" * 12}, IMAGE_URL]}]},
            3,
            id="text-parts-counted-images-not",
        ),
        pytest.param(
            "messages",
            {
                "system": [{"type": "text", "text": "s" * 8}],
                "messages": [{"role": "user", "content": "u" * 8}],
            },
            4,
            id="anthropic-system-blocks",
        ),
        pytest.param("messages", {"system": "s" * 16}, 4, id="anthropic-system-string"),
        pytest.param(
            "messages",
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "r" * 8}]}]},
            2,
            id="anthropic-tool-result-content",
        ),
        pytest.param("completions", {"prompt": "p" * 100}, 25, id="completions-prompt"),
        pytest.param("completions", {"prompt": ["p" * 4, "q" * 4]}, 2, id="completions-prompt-list"),
        pytest.param("embeddings", {"input": "i" * 20}, 5, id="embeddings-input"),
        pytest.param("embeddings", {"input": ["i" * 4, "j" * 8]}, 3, id="embeddings-input-list"),
        pytest.param("chat", {"input": "i" * 20}, 0, id="input-ignored-outside-embeddings"),
        pytest.param(
            "chat", {"messages": [{"role": "user", "content": None}], "tools": [{}]}, 0, id="null-content"
        ),
    ],
)
def test_prompt_token_estimate(api: Any, body: dict[str, Any], tokens: int) -> None:
    assert estimate_prompt_tokens(api, body) == tokens
    assert build(body, api=api).prompt_tokens == tokens


# --- max tokens -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "max_tokens"),
    [
        pytest.param({}, 0, id="absent"),
        pytest.param({"max_tokens": 100}, 100, id="max-tokens"),
        pytest.param({"max_completion_tokens": 200}, 200, id="max-completion-tokens"),
        pytest.param({"max_completion_tokens": 200, "max_tokens": 100}, 200, id="completion-tokens-win"),
        pytest.param({"max_completion_tokens": 0, "max_tokens": 100}, 100, id="zero-completion-falls-back"),
        pytest.param({"max_completion_tokens": -5, "max_tokens": 100}, 100, id="negative-falls-back"),
        pytest.param({"max_completion_tokens": "300", "max_tokens": 100}, 100, id="string-falls-back"),
        pytest.param({"max_completion_tokens": True, "max_tokens": 100}, 100, id="bool-is-not-an-int"),
        pytest.param({"max_tokens": True}, 0, id="bool-max-tokens-ignored"),
        pytest.param({"max_tokens": 12.5}, 0, id="float-ignored"),
        pytest.param({"max_tokens": None}, 0, id="null"),
    ],
)
def test_max_tokens(body: dict[str, Any], max_tokens: int) -> None:
    assert build(body).max_tokens == max_tokens


# --- needs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "body", "needs"),
    [
        pytest.param("chat", {"messages": [{"role": "user", "content": "hi"}]}, set(), id="plain-chat"),
        pytest.param("chat", {"tools": [{"type": "function"}]}, {"tools"}, id="tools"),
        pytest.param("chat", {"functions": [{"name": "f"}]}, {"tools"}, id="legacy-functions"),
        pytest.param("chat", {"tools": []}, set(), id="empty-tools-need-nothing"),
        pytest.param("chat", {"response_format": {"type": "json_object"}}, {"json"}, id="json-object"),
        pytest.param(
            "chat",
            {"response_format": {"type": "json_schema", "json_schema": {}}},
            {"json"},
            id="json-schema",
        ),
        pytest.param("chat", {"response_format": {"type": "text"}}, set(), id="text-format"),
        pytest.param("chat", {"response_format": "json_object"}, set(), id="non-dict-format"),
        pytest.param("chat", {"stream": True}, {"streaming"}, id="streaming"),
        pytest.param("chat", {"stream": False}, set(), id="not-streaming"),
        pytest.param("embeddings", {"input": "x"}, {"embeddings"}, id="embeddings"),
        pytest.param(
            "chat", {"messages": [{"role": "user", "content": [IMAGE_URL]}]}, {"vision"}, id="image-url"
        ),
        pytest.param(
            "messages",
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            {"vision"},
            id="anthropic-image",
        ),
        pytest.param(
            "chat",
            {"messages": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            {"vision"},
            id="input-image",
        ),
        pytest.param(
            "chat",
            {"messages": [{"role": "user", "content": "look"}, {"role": "user", "content": [IMAGE_URL]}]},
            {"vision"},
            id="image-in-a-later-message",
        ),
        pytest.param(
            "chat",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
            set(),
            id="text-part",
        ),
        pytest.param("chat", {"messages": ["junk", 3, None]}, set(), id="malformed-messages-tolerated"),
        # Not a list (check_body refuses such a body before routing): still scanned like any prompt part.
        pytest.param("chat", {"messages": {"content": [IMAGE_URL]}}, {"vision"}, id="messages-not-a-list"),
        pytest.param(
            "chat",
            {
                "stream": True,
                "tools": [{}],
                "response_format": {"type": "json_object"},
                "messages": [{"role": "user", "content": [IMAGE_URL]}],
            },
            {"streaming", "tools", "json", "vision"},
            id="everything",
        ),
    ],
)
def test_needs(api: Any, body: dict[str, Any], needs: set[str]) -> None:
    assert build(body, api=api).needs == frozenset(needs)


def test_deep_nesting_is_walked_without_recursion() -> None:
    deep: Any = "x" * 8
    for _ in range(5000):
        deep = [{"content": deep}]
    assert build({"messages": deep}).prompt_tokens == 2


# --- deadline -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "deadline"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("1", 1, id="smallest"),
        pytest.param(str(MAX_DEADLINE_MS), MAX_DEADLINE_MS, id="largest"),
        pytest.param(" 250 ", 250, id="surrounding-spaces"),
        pytest.param("0800", 800, id="leading-zero"),
    ],
)
def test_parse_deadline(raw: str | None, deadline: int | None) -> None:
    assert parse_deadline(raw) == deadline


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("0", id="zero"),
        pytest.param("-5", id="negative"),
        pytest.param("+5", id="plus-sign"),
        pytest.param(str(MAX_DEADLINE_MS + 1), id="over-an-hour"),
        pytest.param("1.5", id="fraction"),
        pytest.param("1e3", id="exponent"),
        pytest.param("abc", id="word"),
        pytest.param("   ", id="blank"),
        pytest.param("10ms", id="unit-suffix"),
        # str.isdigit() is true for these, but int() refuses them: they must still be a 400 (HintError),
        # never an unexpected ValueError (a 500).
        pytest.param("\u00b2", id="superscript-two"),
        pytest.param("9" * 5000, id="more-digits-than-int-accepts"),
    ],
)
def test_malformed_deadline_is_a_hint_error_naming_the_header(raw: str) -> None:
    with pytest.raises(HintError) as caught:
        parse_deadline(raw)
    assert caught.value.param == DEADLINE_MS
    assert DEADLINE_MS in caught.value.message
    with pytest.raises(HintError) as caught_in_build:
        build(headers={DEADLINE_MS: raw})
    assert caught_in_build.value.param == DEADLINE_MS


# --- priority -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "priority"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("critical", "critical", id="critical"),
        pytest.param("standard", "standard", id="standard"),
        pytest.param(" Sheddable ", "sheddable", id="case-and-spaces"),
    ],
)
def test_parse_priority(raw: str | None, priority: str | None) -> None:
    assert parse_priority(raw) == priority


@pytest.mark.parametrize("raw", ["urgent", "high", "0", "critical!", "crit ical"])
def test_malformed_priority_is_a_hint_error_naming_the_header(raw: str) -> None:
    with pytest.raises(HintError) as caught:
        build(headers={PRIORITY: raw})
    assert caught.value.param == PRIORITY
    assert "critical, standard, sheddable" in str(caught.value)


def test_hint_error_is_a_value_error_with_message_and_param() -> None:
    error = HintError("bad", param="X")
    assert isinstance(error, ValueError)
    assert (str(error), error.message, error.param) == ("bad", "bad", "X")


@pytest.mark.parametrize(
    ("route", "requested", "effective"),
    [
        pytest.param("critical", None, "critical", id="no-hint"),
        pytest.param("critical", "sheddable", "sheddable", id="lowered"),
        pytest.param("standard", "sheddable", "sheddable", id="lowered-one-step"),
        pytest.param("standard", "standard", "standard", id="same"),
        pytest.param("standard", "critical", "standard", id="never-raised"),
        pytest.param("sheddable", "critical", "sheddable", id="never-raised-two-steps"),
    ],
)
def test_effective_priority(route: Any, requested: Any, effective: str) -> None:
    assert effective_priority(route, requested) == effective


# --- sticky key -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "key"),
    [
        pytest.param({}, {}, "", id="none"),
        pytest.param({USER: "h"}, {"user": "b", "metadata": {"user_id": "m"}}, "h", id="header-first"),
        pytest.param({}, {"user": "b", "metadata": {"user_id": "m"}}, "b", id="body-user-second"),
        pytest.param({}, {"metadata": {"user_id": "m"}}, "m", id="anthropic-metadata-third"),
        pytest.param({USER: ""}, {"user": "b"}, "b", id="empty-header-falls-back"),
        pytest.param({}, {"user": 7, "metadata": {"user_id": "m"}}, "m", id="non-string-user-skipped"),
        pytest.param({}, {"metadata": {"user_id": 7}}, "", id="non-string-user-id-ignored"),
        pytest.param({}, {"metadata": "m"}, "", id="metadata-not-a-dict"),
    ],
)
def test_sticky_key(headers: dict[str, str], body: dict[str, Any], key: str) -> None:
    assert build(body, headers).sticky_key == key
