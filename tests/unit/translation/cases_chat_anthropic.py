"""A chat-completions client on an Anthropic endpoint: the table (requests in chat's shape, answers in
Messages')."""

from __future__ import annotations

from cases import (
    ANTHROPIC_BAD_REQUEST,
    ANTHROPIC_OVERLOADED,
    ANTHROPIC_RATE_LIMITED,
    HELLO,
    PNG,
    WEATHER,
    Case,
)
from wire import anthropic_answer, text_block, tool_block

TOOL = {
    "type": "function",
    "function": {"name": "weather", "description": "Weather of a city", "parameters": WEATHER},
}
TOOL_TURNS = [
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "tool", "tool_call_id": "call_2", "content": "9C"},
]


def chat(**fields: object) -> dict[str, object]:
    return {"model": "r", "messages": HELLO, **fields}


CASES = [
    Case("text", chat()),
    Case("system", chat(messages=[{"role": "system", "content": "Be brief."}, *HELLO])),
    Case("developer-as-system", chat(messages=[{"role": "developer", "content": "Be brief."}, *HELLO])),
    Case(
        "two-system-messages-joined",
        chat(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "system", "content": "Be kind."},
                *HELLO,
            ]
        ),
    ),
    Case(
        "multi-turn",
        chat(
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "How are you?"},
            ]
        ),
    ),
    Case(
        "consecutive-user-turns-merged",
        chat(messages=[{"role": "user", "content": "One."}, {"role": "user", "content": "Two."}]),
    ),
    Case("text-parts", chat(messages=[{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}])),
    Case("max-tokens", chat(max_tokens=50)),
    Case("max-completion-tokens", chat(max_completion_tokens=60)),
    Case("max-tokens-default-is-the-endpoints-cap", chat()),
    Case("stop-string", chat(stop="END")),
    Case("stop-list", chat(stop=["END", "STOP"])),
    Case("sampling-parameters-stay-behind", chat(temperature=1.7, top_p=0.9)),
    Case("tools", chat(tools=[TOOL])),
    Case("tool-choice-auto", chat(tools=[TOOL], tool_choice="auto")),
    Case("tool-choice-required-is-any", chat(tools=[TOOL], tool_choice="required")),
    Case("tool-choice-none", chat(tools=[TOOL], tool_choice="none")),
    Case(
        "tool-choice-named",
        chat(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "weather"}}),
    ),
    Case("no-parallel-tool-calls", chat(tools=[TOOL], parallel_tool_calls=False)),
    Case(
        "answer-is-a-tool-call",
        chat(tools=[TOOL]),
        anthropic_answer([tool_block("toolu_1", "weather", {"city": "Paris"})], stop="tool_use"),
    ),
    Case(
        "answer-is-parallel-tool-calls-with-text",
        chat(tools=[TOOL]),
        anthropic_answer(
            [
                text_block("Checking both."),
                tool_block("toolu_1", "weather", {"city": "Paris"}),
                tool_block("toolu_2", "weather", {"city": "Oslo"}),
            ],
            stop="tool_use",
        ),
    ),
    Case("tool-results-in-one-user-turn", chat(tools=[TOOL], messages=TOOL_TURNS)),
    Case(
        "image-data-url",
        chat(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ]
        ),
    ),
    Case(
        "image-https-url",
        chat(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
                }
            ]
        ),
    ),
    Case("stop-reason-max-tokens-is-length", chat(max_tokens=3), anthropic_answer(stop="max_tokens")),
    Case("stop-reason-stop-sequence-is-stop", chat(stop="END"), anthropic_answer(stop="stop_sequence")),
    Case("stop-reason-refusal-is-content-filter", chat(), anthropic_answer(stop="refusal")),
    Case(
        "usage-with-cache-reads-and-writes",
        chat(),
        anthropic_answer(
            usage={
                "input_tokens": 10,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
                "output_tokens": 7,
            }
        ),
    ),
    Case("user-is-metadata", chat(user="alice")),
    Case("json-object-is-an-instruction", chat(response_format={"type": "json_object"})),
    Case(
        "json-schema-is-an-instruction-with-the-schema",
        chat(
            messages=[{"role": "system", "content": "Be brief."}, *HELLO],
            response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}},
        ),
    ),
    Case("empty-answer", chat(), anthropic_answer([text_block("")])),
    Case("stream-flag-passed", chat(stream=True)),
    Case("error-rate-limited", chat(), error=ANTHROPIC_RATE_LIMITED),
    Case("error-bad-request", chat(), error=ANTHROPIC_BAD_REQUEST),
    Case("error-overloaded", chat(), error=ANTHROPIC_OVERLOADED),
    Case("refused-n-above-one", chat(n=2), refused="n"),
    Case(
        "refused-audio-part",
        chat(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}],
                }
            ]
        ),
        refused="messages[0].content",
    ),
    Case(
        "refused-bad-tool-arguments",
        chat(
            messages=[
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}
                    ],
                }
            ]
        ),
        refused="messages[0].tool_calls[0]",
    ),
]
