"""Test-side upstreams and SDK checks for the translation tables.

- Builders of the answers an endpoint gives (`chat_answer`, `anthropic_answer`), and the streams an
  endpoint would send for such an answer (`chat_stream`, `anthropic_stream`): text in word pieces, tool
  calls with their arguments in pieces, usage at the end, as OpenAI and Anthropic send them.
- `validate_request`/`validate_answer`: parse a body with the official SDKs' own types (request params
  as TypedDicts, deeply; answers as the SDKs' models).
- `accumulate`: feed a translated stream to the SDK's own stream accumulator (openai's
  ChatCompletionStreamState and ResponseStreamState, anthropic's accumulate_event) and return the final
  object it builds, which must equal the translated non-streamed twin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types import message_create_params as anthropic_params
from openai import omit
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat import completion_create_params as chat_params
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses import response_create_params as responses_params
from pydantic import TypeAdapter

from switchboard_proxy.translation.streams import DONE, Event

CREATED = 1_700_000_000
REQUEST_TYPES: dict[str, Any] = {
    "chat": TypeAdapter(chat_params.CompletionCreateParamsNonStreaming),
    "messages": TypeAdapter(anthropic_params.MessageCreateParamsNonStreaming),
    "responses": TypeAdapter(responses_params.ResponseCreateParamsNonStreaming),
}
REQUEST_KEYS: dict[str, set[str]] = {
    "chat": set(chat_params.CompletionCreateParamsBase.__annotations__),
    "messages": set(anthropic_params.MessageCreateParamsBase.__annotations__),
    "responses": set(responses_params.ResponseCreateParamsBase.__annotations__),
}
# Fields older SDKs still send that today's types lack (Messages' sampling parameters).
LEGACY_KEYS: dict[str, set[str]] = {"messages": {"temperature", "top_p", "top_k"}}
ANSWER_TYPES: dict[str, Any] = {"chat": ChatCompletion, "messages": Message, "responses": Response}
ANTHROPIC_EVENT = TypeAdapter(RawMessageStreamEvent)
RESPONSES_EVENT = TypeAdapter(ResponseStreamEvent)


def _consume(value: Any) -> Any:
    """Force pydantic's lazy validation of Iterable fields, all the way down."""
    if isinstance(value, dict):
        return {k: _consume(v) for k, v in value.items()}
    if isinstance(value, list | tuple) or type(value).__name__ == "ValidatorIterator":
        return [_consume(v) for v in value]
    return value


def validate_request(api: str, body: dict[str, Any], *, legacy: bool = False) -> None:
    """The body is a valid request of `api` by the SDK's own parameter types (no unknown top-level key;
    `legacy`: a caller's body may hold the fields older SDKs send)."""
    allowed = REQUEST_KEYS[api] | {"stream"} | (LEGACY_KEYS.get(api, set()) if legacy else set())
    unknown = set(body) - allowed
    assert not unknown, f"{api} has no request fields {unknown}"
    _consume(REQUEST_TYPES[api].validate_python({k: v for k, v in body.items() if k in REQUEST_KEYS[api]}))


def validate_answer(api: str, document: dict[str, Any]) -> Any:
    return ANSWER_TYPES[api].model_validate(document)


def words(text: str) -> list[str]:
    pieces = text.split(" ")
    return [piece if i == 0 else " " + piece for i, piece in enumerate(pieces)] if text else []


def chat_answer(
    content: str | None = "Hello there",
    *,
    tool_calls: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    finish: str = "stop",
    usage: dict[str, Any] | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for cid, name, args in tool_calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": CREATED,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }


def anthropic_answer(
    content: list[dict[str, Any]] | None = None,
    *,
    stop: str = "end_turn",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": content if content is not None else [{"type": "text", "text": "Hello there"}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 12, "output_tokens": 5},
    }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_block(tool_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": arguments}


def chat_stream(answer: dict[str, Any]) -> list[Event]:
    """The chunks a chat endpoint streams for `answer` (usage chunk included, as asked)."""
    base = {k: answer[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    choice = answer["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return "", {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in words(message.get("content") or "")]
    events += [chunk({"refusal": piece}) for piece in words(message.get("refusal") or "")]
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        arguments = function["arguments"]
        for start in range(0, len(arguments), 7):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 7]}}
            events.append(chunk({"tool_calls": [piece]}))
    events.append(chunk({}, choice["finish_reason"]))
    events.append(("", {**base, "choices": [], "usage": answer["usage"]}))
    return [*events, ("", DONE)]


def anthropic_stream(answer: dict[str, Any]) -> list[Event]:
    """The events an Anthropic endpoint streams for `answer`."""
    start = {**answer, "content": [], "stop_reason": None, "usage": {**answer["usage"], "output_tokens": 1}}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(answer["content"]):
        if block["type"] == "text":
            opened = {"type": "text", "text": ""}
            pieces = [{"type": "text_delta", "text": p} for p in words(block["text"])]
        else:
            opened = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            pieces = [
                {"type": "input_json_delta", "partial_json": arguments[s : s + 5]}
                for s in range(0, len(arguments), 5)
            ]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opened})
        )
        events.append(("ping", {"type": "ping"}))
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in pieces
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": answer["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": answer["usage"]["output_tokens"]}
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    return [*events, ("message_stop", {"type": "message_stop"})]


def stream_of(wire: str, answer: dict[str, Any]) -> list[Event]:
    return anthropic_stream(answer) if wire == "messages" else chat_stream(answer)


def accumulate(api: str, events: Iterable[Event]) -> dict[str, Any]:
    """The final object the caller's SDK builds from `events` (each parsed by the SDK's event types)."""
    if api == "chat":
        state = ChatCompletionStreamState()
        for _, data in _until_done(events):
            state.handle_chunk(ChatCompletionChunk.model_validate(data))
        # The snapshot, not get_final_completion(), which refuses a length-cut answer (it is for .parse()).
        return state.current_completion_snapshot.model_dump(exclude_none=True)
    if api == "messages":
        snapshot = None
        json_bufs: dict[int, bytes] = {}
        for _, data in events:
            event = ANTHROPIC_EVENT.validate_python(data)
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
        assert snapshot is not None
        return snapshot.model_dump(exclude_none=True)
    responses = ResponseStreamState(input_tools=omit, text_format=omit)
    final = None
    for _, data in events:
        for handled in responses.handle_event(RESPONSES_EVENT.validate_python(data)):
            if handled.type in ("response.completed", "response.incomplete"):
                final = handled.response
    assert final is not None, "the stream never completed"
    return final.model_dump(exclude_none=True)


def _until_done(events: Iterable[Event]) -> Iterator[Event]:
    for event in events:
        if event[1] == DONE:
            return
        yield event
