"""Every field of a valid body, replaced by a value of the wrong type, gives a TranslationError (a 400 in
the caller's shape) or a translation, never another exception (a 500): the fuzz campaign found
`"tools": true` on /v1/messages and /v1/responses crashing the translators. Bodies the edge already
refuses (server/bodies.py) are left out, as they never reach a translator."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from switchboard_proxy.server.bodies import check_body
from switchboard_proxy.server.errors import BadRequest
from switchboard_proxy.translation import TranslationError, translator_for

IMAGE = "data:image/png;base64,AAAA"
TOOL_CALL = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("chat", "messages"): {
        "model": "m",
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
            {"role": "tool", "tool_call_id": "c", "content": "r"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "t"},
                    {"type": "image_url", "image_url": {"url": IMAGE}},
                ],
            },
        ],
        "max_tokens": 5,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "stop": ["x"],
        "stream_options": {"include_usage": True},
        "response_format": {"type": "text"},
    },
    ("messages", "chat"): {
        "model": "m",
        "system": "s",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "x"},
                    {"type": "tool_use", "id": "c", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "c", "content": "r"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            },
        ],
        "max_tokens": 5,
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto"},
        "stop_sequences": ["x"],
        "metadata": {"user_id": "u"},
    },
    ("responses", "chat"): {
        "model": "m",
        "instructions": "s",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": IMAGE},
                ],
            },
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "r"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]},
        ],
        "max_output_tokens": 5,
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "text": {"format": {"type": "text"}},
        "reasoning": {"effort": "low"},
    },
}
BODIES[("responses", "messages")] = BODIES[("responses", "chat")]
WRONG: list[Any] = [True, 1, 2.5, "x", None, {}, {"a": 1}, [], [1], ["x"], [None], [{}], [[1]], [{"type": 1}]]


def paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside `value` (keys and indexes), the value itself left out."""
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        yield (*path, key)
        yield from paths(child, (*path, key))


def replaced(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return copied


@pytest.mark.parametrize("pair", list(BODIES), ids="->".join)
def test_a_wrong_type_anywhere_is_a_translation_error_never_a_crash(pair: tuple[str, str]) -> None:
    caller, wire = pair
    tried = 0
    for path in paths(BODIES[pair]):
        for value in WRONG:
            body = replaced(BODIES[pair], path, value)
            try:
                check_body(caller, body)  # type: ignore[arg-type]
            except BadRequest:
                continue  # refused at the edge
            translator = translator_for(caller, wire, body, created=1)
            assert translator is not None
            tried += 1
            with contextlib.suppress(TranslationError):  # anything else fails the test
                translator.request(max_tokens=16)
    assert tried > 400  # the walk really covered the bodies


@pytest.mark.parametrize("caller", ["messages", "responses"])
def test_tools_that_are_not_an_array_name_the_field(caller: str) -> None:
    body = {"model": "chat", "max_tokens": 16, "tools": True}
    body |= (
        {"messages": [{"role": "user", "content": "def add(a, b): "}]}
        if caller == "messages"
        else {"input": "hi"}
    )
    translator = translator_for(caller, "chat", body, created=1)
    assert translator is not None
    with pytest.raises(TranslationError) as refused:
        translator.request(max_tokens=16)
    assert refused.value.param == "tools"
