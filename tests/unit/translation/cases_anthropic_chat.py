"""An Anthropic Messages client on an OpenAI-compatible endpoint: the table (requests in Messages' shape,
answers in chat's)."""

from __future__ import annotations

from cases import OPENAI_BAD_REQUEST, OPENAI_RATE_LIMITED, OPENAI_SERVER_ERROR, PNG, WEATHER, Case
from wire import chat_answer

TOOL = {"name": "weather", "description": "Weather of a city", "input_schema": WEATHER}
HI = [{"role": "user", "content": "Say hello."}]
TOOL_TURNS = [
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Oslo"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "9C"}]},
        ],
    },
]


def messages(**fields: object) -> dict[str, object]:
    return {"model": "r", "max_tokens": 100, "messages": HI, **fields}


CASES = [
    Case("text", messages()),
    Case("system-string", messages(system="Be brief.")),
    Case(
        "system-blocks",
        messages(system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}]),
    ),
    Case(
        "multi-turn",
        messages(
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How are you?"},
            ]
        ),
    ),
    Case(
        "text-blocks-become-a-string",
        messages(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Say "}, {"type": "text", "text": "hi."}],
                }
            ]
        ),
    ),
    Case("stop-sequences", messages(stop_sequences=["END"])),
    Case("legacy-sampling-parameters-passed", messages(temperature=0.2, top_p=0.5)),
    Case("legacy-top-k-has-no-chat-counterpart", messages(top_k=5)),
    Case("tools", messages(tools=[TOOL])),
    Case("tool-choice-auto", messages(tools=[TOOL], tool_choice={"type": "auto"})),
    Case("tool-choice-any-is-required", messages(tools=[TOOL], tool_choice={"type": "any"})),
    Case(
        "tool-choice-tool-is-named", messages(tools=[TOOL], tool_choice={"type": "tool", "name": "weather"})
    ),
    Case("tool-choice-none", messages(tools=[TOOL], tool_choice={"type": "none"})),
    Case(
        "disable-parallel-tool-use",
        messages(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": True}),
    ),
    Case(
        "answer-is-a-tool-call",
        messages(tools=[TOOL]),
        chat_answer(None, tool_calls=[("call_1", "weather", {"city": "Paris"})], finish="tool_calls"),
    ),
    Case(
        "answer-is-parallel-tool-calls-with-text",
        messages(tools=[TOOL]),
        chat_answer(
            "Checking both.",
            tool_calls=[("call_1", "weather", {"city": "Paris"}), ("call_2", "weather", {"city": "Oslo"})],
            finish="tool_calls",
        ),
    ),
    Case("tool-use-and-tool-results-history", messages(tools=[TOOL], messages=TOOL_TURNS)),
    Case(
        "tool-result-error-and-text-after-it",
        messages(
            tools=[TOOL],
            messages=[
                *TOOL_TURNS[:2],
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": "no such city",
                            "is_error": True,
                        },
                        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "9C"},
                        {"type": "text", "text": "Now summarise."},
                    ],
                },
            ],
        ),
    ),
    Case(
        "image-base64",
        messages(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "text", "text": "What is this?"},
                    ],
                }
            ]
        ),
    ),
    Case(
        "image-url",
        messages(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                    ],
                }
            ]
        ),
    ),
    Case(
        "thinking-in-history-stays-behind",
        messages(
            messages=[
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "text", "text": "Hello"},
                    ],
                },
                {"role": "user", "content": "Again"},
            ]
        ),
    ),
    Case("finish-length-is-max-tokens", messages(max_tokens=3), chat_answer(finish="length")),
    Case("finish-content-filter-is-refusal", messages(), chat_answer(finish="content_filter")),
    Case("refusal-message", messages(), chat_answer(None, refusal="I cannot help with that.")),
    Case(
        "usage-with-cached-tokens",
        messages(),
        chat_answer(
            usage={
                "prompt_tokens": 1200,
                "completion_tokens": 9,
                "total_tokens": 1209,
                "prompt_tokens_details": {"cached_tokens": 1000},
            }
        ),
    ),
    Case("metadata-user-id-is-user", messages(metadata={"user_id": "alice"})),
    Case(
        "tool-arguments-that-are-no-json-object",
        messages(tools=[TOOL]),
        {
            **chat_answer(None, finish="tool_calls"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "weather", "arguments": "Paris"},
                            }
                        ],
                    },
                }
            ],
        },
    ),
    Case("empty-answer", messages(), chat_answer("")),
    Case("stream-flag-passed", messages(stream=True)),
    Case("error-rate-limited", messages(), error=OPENAI_RATE_LIMITED),
    Case("error-bad-request", messages(), error=OPENAI_BAD_REQUEST),
    Case("error-server-error", messages(), error=OPENAI_SERVER_ERROR),
    Case(
        "refused-document-block",
        messages(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "document",
                            "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                        }
                    ],
                }
            ]
        ),
        refused="messages[0].content[0]",
    ),
    Case(
        "refused-server-tool",
        messages(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        refused="tools[0]",
    ),
]
