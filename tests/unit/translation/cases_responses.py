"""A Responses API client on a chat endpoint and on an Anthropic endpoint: the two tables share their
requests (in the Responses shape) and differ in the endpoint's answers."""

from __future__ import annotations

from cases import (
    ANTHROPIC_BAD_REQUEST,
    ANTHROPIC_OVERLOADED,
    ANTHROPIC_RATE_LIMITED,
    OPENAI_BAD_REQUEST,
    OPENAI_RATE_LIMITED,
    OPENAI_SERVER_ERROR,
    PNG,
    WEATHER,
    Case,
)
from wire import anthropic_answer, chat_answer, text_block, tool_block

TOOL = {
    "type": "function",
    "name": "weather",
    "description": "Weather of a city",
    "parameters": WEATHER,
    "strict": True,
}
CALLS = [
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city": "Paris"}'},
    {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": '{"city": "Oslo"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
    {"type": "function_call_output", "call_id": "call_2", "output": "9C"},
]


def responses(**fields: object) -> dict[str, object]:
    return {"model": "r", "input": "Say hello.", **fields}


# (id, request, chat answer, Anthropic answer); None: the table's default answer.
REQUESTS = [
    ("input-string", responses(), None, None),
    ("instructions", responses(instructions="Be brief."), None, None),
    (
        "input-message-items",
        responses(
            input=[{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]
        ),
        None,
        None,
    ),
    (
        "multi-turn",
        responses(
            input=[
                {"role": "user", "content": "Hi"},
                {
                    "type": "message",
                    "id": "msg_0",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello!", "annotations": []}],
                },
                {"role": "user", "content": "How are you?"},
            ]
        ),
        None,
        None,
    ),
    (
        "developer-role",
        responses(input=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
        None,
        None,
    ),
    ("max-output-tokens", responses(max_output_tokens=40), None, None),
    ("temperature-and-top-p", responses(temperature=0.3, top_p=0.8), None, None),
    ("function-tools", responses(tools=[TOOL]), None, None),
    ("tool-choice-required", responses(tools=[TOOL], tool_choice="required"), None, None),
    ("tool-choice-none", responses(tools=[TOOL], tool_choice="none"), None, None),
    (
        "tool-choice-named",
        responses(tools=[TOOL], tool_choice={"type": "function", "name": "weather"}),
        None,
        None,
    ),
    ("no-parallel-tool-calls", responses(tools=[TOOL], parallel_tool_calls=False), None, None),
    (
        "answer-is-a-function-call",
        responses(tools=[TOOL]),
        chat_answer(None, tool_calls=[("call_1", "weather", {"city": "Paris"})], finish="tool_calls"),
        anthropic_answer([tool_block("call_1", "weather", {"city": "Paris"})], stop="tool_use"),
    ),
    (
        "answer-is-parallel-function-calls",
        responses(tools=[TOOL]),
        chat_answer(
            None,
            tool_calls=[("call_1", "weather", {"city": "Paris"}), ("call_2", "weather", {"city": "Oslo"})],
            finish="tool_calls",
        ),
        anthropic_answer(
            [
                tool_block("call_1", "weather", {"city": "Paris"}),
                tool_block("call_2", "weather", {"city": "Oslo"}),
            ],
            stop="tool_use",
        ),
    ),
    (
        "answer-is-text-then-a-function-call",
        responses(tools=[TOOL]),
        chat_answer("Checking.", tool_calls=[("call_1", "weather", {"city": "Paris"})], finish="tool_calls"),
        anthropic_answer(
            [text_block("Checking."), tool_block("call_1", "weather", {"city": "Paris"})], stop="tool_use"
        ),
    ),
    ("function-calls-and-outputs-history", responses(tools=[TOOL], input=CALLS), None, None),
    (
        "input-image-url",
        responses(
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is it?"},
                        {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"},
                    ],
                }
            ]
        ),
        None,
        None,
    ),
    (
        "input-image-data-url-high-detail",
        responses(
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "high"}
                    ],
                }
            ]
        ),
        None,
        None,
    ),
    ("text-format-json-object", responses(text={"format": {"type": "json_object"}}), None, None),
    (
        "text-format-json-schema",
        responses(
            text={"format": {"type": "json_schema", "name": "weather", "schema": WEATHER, "strict": True}}
        ),
        None,
        None,
    ),
    ("reasoning-effort", responses(reasoning={"effort": "low"}), None, None),
    (
        "reasoning-items-stay-behind",
        responses(
            input=[{"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "Hi"}]
        ),
        None,
        None,
    ),
    (
        "length-cut-is-incomplete",
        responses(max_output_tokens=3),
        chat_answer(finish="length"),
        anthropic_answer(stop="max_tokens"),
    ),
    (
        "content-filter-is-incomplete",
        responses(),
        chat_answer(finish="content_filter"),
        anthropic_answer(stop="refusal"),
    ),
    (
        "usage-with-cached-tokens",
        responses(),
        chat_answer(
            usage={
                "prompt_tokens": 1200,
                "completion_tokens": 9,
                "total_tokens": 1209,
                "prompt_tokens_details": {"cached_tokens": 1000},
            }
        ),
        anthropic_answer(usage={"input_tokens": 200, "cache_read_input_tokens": 1000, "output_tokens": 9}),
    ),
    ("user-passed", responses(user="alice"), None, None),
    ("metadata-echoed", responses(metadata={"team": "editor"}), None, None),
    ("store-false-is-fine", responses(store=False), None, None),
    ("empty-answer", responses(), chat_answer(""), anthropic_answer([text_block("")])),
    ("stream-flag-passed", responses(stream=True), None, None),
]
REFUSED = [
    ("refused-previous-response-id", responses(previous_response_id="resp_1"), "previous_response_id"),
    ("refused-store-true", responses(store=True), "store"),
    ("refused-background", responses(background=True), "background"),
    ("refused-built-in-tool", responses(tools=[{"type": "web_search"}]), "tools[0]"),
    ("refused-item-reference", responses(input=[{"type": "item_reference", "id": "msg_1"}]), "input[0]"),
]

CHAT_CASES = [Case(i, request, answer) for i, request, answer, _ in REQUESTS]
CHAT_CASES += [
    Case("refusal-message", responses(), chat_answer(None, refusal="I cannot help with that.")),
    Case("error-rate-limited", responses(), error=OPENAI_RATE_LIMITED),
    Case("error-bad-request", responses(), error=OPENAI_BAD_REQUEST),
    Case("error-server-error", responses(), error=OPENAI_SERVER_ERROR),
]
CHAT_CASES += [Case(i, request, refused=param) for i, request, param in REFUSED]

ANTHROPIC_CASES = [Case(i, request, answer) for i, request, _, answer in REQUESTS]
ANTHROPIC_CASES += [
    Case("error-rate-limited", responses(), error=ANTHROPIC_RATE_LIMITED),
    Case("error-bad-request", responses(), error=ANTHROPIC_BAD_REQUEST),
    Case("error-overloaded", responses(), error=ANTHROPIC_OVERLOADED),
]
ANTHROPIC_CASES += [Case(i, request, refused=param) for i, request, param in REFUSED]
