"""SSE helpers: splitting a byte stream into events, spotting a failed first event, and the relays that
copy events while collecting usage (and stripping the usage the client did not ask for)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.execution.streaming import (
    AnthropicRelay,
    OpenAIRelay,
    error_event,
    event_data,
    event_name,
    first_event_error,
    is_comment,
    iter_events,
)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _batches(*parts: bytes) -> list[list[bytes]]:
    return [batch async for batch in iter_events(_chunks(*parts))]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param([b"data: a\n\ndata: b\n\n"], [[b"data: a", b"data: b"]], id="two-events-one-read"),
        pytest.param([b"data: a\n\n", b"data: b\n\n"], [[b"data: a"], [b"data: b"]], id="one-event-per-read"),
        pytest.param([b"da", b"ta: a", b"\n\n"], [[b"data: a"]], id="event-split-across-reads"),
        pytest.param([b"data: a\n", b"\ndata: b\n\n"], [[b"data: a", b"data: b"]], id="separator-split-lf"),
        pytest.param([b"data: a\r\n\r\ndata: b\r\n\r\n"], [[b"data: a", b"data: b"]], id="crlf-separators"),
        pytest.param(
            [b"data: a\r\n", b"\r\n", b"data: b\r", b"\n\r\n"],
            [[b"data: a"], [b"data: b"]],
            id="crlf-separator-split-across-reads",
        ),
        pytest.param([b"data: a\r\n\r\ndata: b\n\n"], [[b"data: a", b"data: b"]], id="mixed-separators"),
        pytest.param([b"event: x\ndata: {}\n\n"], [[b"event: x\ndata: {}"]], id="multi-line-event"),
        pytest.param([b"\n\n\n\ndata: a\n\n"], [[b"data: a"]], id="blank-events-dropped"),
        pytest.param(
            [b"data: a\n\ndata: [DONE]\n"],
            [[b"data: a"], [b"data: [DONE]\n"]],
            id="last-event-without-separator",
        ),
        pytest.param([b"data: a"], [[b"data: a"]], id="only-a-remainder"),
        pytest.param([], [], id="empty-stream"),
    ],
)
async def test_iter_events(parts: list[bytes], expected: list[list[bytes]]) -> None:
    assert await _batches(*parts) == expected


@pytest.mark.parametrize(
    ("event", "data", "name"),
    [
        pytest.param(b"data: {}", b"{}", b"", id="plain"),
        pytest.param(b"data:{}", b"{}", b"", id="no-space"),
        pytest.param(b"event: message_stop\ndata: {}", b"{}", b"message_stop", id="named"),
        pytest.param(b"data: line1\ndata: line2", b"line1\nline2", b"", id="multi-line-data"),
        pytest.param(b": keep-alive", b"", b"", id="comment"),
    ],
)
def test_event_data_and_name(event: bytes, data: bytes, name: bytes) -> None:
    assert event_data(event) == data
    assert event_name(event) == name


@pytest.mark.parametrize(
    ("event", "is_error"),
    [
        pytest.param(
            b'data: {"error": {"message": "boom", "type": "server_error"}}', True, id="openai-error"
        ),
        pytest.param(
            b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"}}',
            True,
            id="anthropic-error-event",
        ),
        pytest.param(
            b'data: {"type": "error", "error": {"type": "api_error"}}', True, id="typed-error-no-name"
        ),
        pytest.param(b"event: error\ndata: not json", True, id="malformed-error-event"),
        pytest.param(b'data: {"choices": [{"delta": {"content": "hi"}}]}', False, id="content"),
        pytest.param(
            b'data: {"choices": [{"delta": {"content": "\\"error\\""}}]}', False, id="content-quoting-error"
        ),
        pytest.param(b'data: {"choices": [], "error": null}', False, id="null-error-field"),
        pytest.param(
            b'data: {"choices": [{"delta": {"content": "an \\"error\\": x"}}]}',
            False,
            id="content-with-error-key-text",
        ),
        pytest.param(b"data: [DONE]", False, id="done"),
        pytest.param(b'event: message_start\ndata: {"type": "message_start"}', False, id="anthropic-start"),
        pytest.param(b'data: {"error"', False, id="malformed-data"),
    ],
)
def test_first_event_error(event: bytes, is_error: bool) -> None:
    assert (first_event_error(event) is not None) is is_error


def test_first_event_error_returns_the_error_document() -> None:
    document = {"error": {"message": "boom", "type": "server_error", "code": "overloaded"}}
    assert first_event_error(b"data: " + orjson.dumps(document)) == document


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(b": keep-alive", True, id="comment"),
        pytest.param(b": one\n: two", True, id="comments"),
        pytest.param(b": note\ndata: x", False, id="comment-and-data"),
        pytest.param(b"data: x", False, id="data"),
    ],
)
def test_is_comment(event: bytes, expected: bool) -> None:
    assert is_comment(event) is expected


def _chunk(**fields: object) -> bytes:
    return b"data: " + orjson.dumps({"id": "c", "object": "chat.completion.chunk", **fields})


CONTENT = _chunk(choices=[{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}], usage=None)
FINISH = _chunk(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}], usage=None)
USAGE = _chunk(
    choices=[],
    usage={
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 2},
    },
)
DONE = b"data: [DONE]"


def _relay_openai(events: list[bytes], *, strip_usage: bool) -> tuple[list[bytes], OpenAIRelay]:
    relay = OpenAIRelay(strip_usage=strip_usage)
    out = [relay.transform(event) for event in events]
    return [event for event in out if event is not None], relay


def test_openai_relay_strips_the_usage_the_client_did_not_ask_for() -> None:
    out, relay = _relay_openai([CONTENT, FINISH, USAGE, DONE], strip_usage=True)
    assert len(out) == 3 and out[-1] == DONE  # the usage-only chunk is gone
    for event in out[:2]:
        assert b'"usage"' not in event
        assert orjson.loads(event_data(event))["object"] == "chat.completion.chunk"
    assert relay.tally.usage == Usage(7, 3, 2)
    assert relay.tally.finish_reason == "stop"
    assert relay.tally.output_chars > 0


def test_openai_relay_keeps_usage_the_client_asked_for() -> None:
    out, relay = _relay_openai([CONTENT, FINISH, USAGE, DONE], strip_usage=False)
    assert out == [CONTENT, FINISH, USAGE, DONE]
    assert relay.tally.usage == Usage(7, 3, 2)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            b'data: {"id":"c","choices":[{"delta":{"content":"x"}}],"usage":null}', id="compact-last"
        ),
        pytest.param(
            b'data: {"usage":null,"id":"c","choices":[{"delta":{"content":"x"}}]}', id="compact-first"
        ),
        pytest.param(
            b'data: {"id": "c", "choices": [{"delta": {"content": "x"}}], "usage": null}', id="spaced-last"
        ),
        pytest.param(
            b'data: {"usage": null, "id": "c", "choices": [{"delta": {"content": "x"}}]}', id="spaced-first"
        ),
    ],
)
def test_openai_relay_removes_usage_null_in_any_json_spacing(event: bytes) -> None:
    out, _ = _relay_openai([event], strip_usage=True)
    decoded = orjson.loads(event_data(out[0]))
    assert decoded == {"id": "c", "choices": [{"delta": {"content": "x"}}]}


def test_openai_relay_leaves_content_that_mentions_usage_alone() -> None:
    event = _chunk(choices=[{"index": 0, "delta": {"content": 'say "usage":null, please'}}])
    out, _ = _relay_openai([event], strip_usage=True)
    assert out == [event]


def test_openai_relay_passes_unparsable_events_through() -> None:
    broken = b'data: {"finish_reason":"stop", broken'
    out, relay = _relay_openai([broken, b": keep-alive"], strip_usage=True)
    assert out == [broken, b": keep-alive"]
    assert relay.tally.usage == Usage()


def _anthropic(name: str, **data: object) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data})


def test_anthropic_relay_reads_usage_from_start_and_delta() -> None:
    events = [
        _anthropic("message_start", message={"id": "m", "usage": {"input_tokens": 11, "output_tokens": 1}}),
        _anthropic("content_block_delta", index=0, delta={"type": "text_delta", "text": "hello"}),
        _anthropic("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 9}),
        _anthropic("message_stop"),
    ]
    relay = AnthropicRelay()
    assert [relay.transform(event) for event in events] == events  # copied untouched
    assert relay.tally.usage == Usage(11, 9, 0)
    assert relay.tally.finish_reason == "end_turn"
    assert relay.tally.output_chars > 0


def test_anthropic_relay_counts_cached_input_as_prompt_tokens() -> None:
    usage = {
        "input_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
        "output_tokens": 1,
    }
    relay = AnthropicRelay()
    relay.transform(_anthropic("message_start", message={"id": "m", "usage": usage}))
    relay.transform(
        _anthropic("message_delta", delta={"stop_reason": "max_tokens"}, usage={"output_tokens": 4})
    )
    assert relay.tally.usage == Usage(125, 4, 100, 20)  # 20 written to the cache
    assert relay.tally.finish_reason == "max_tokens"


def test_error_events_end_streams_in_each_apis_shape() -> None:
    openai_event = error_event(api="chat", message="upstream stream failed")
    assert openai_event.endswith(b"\n\n") and event_name(openai_event) == b""
    assert orjson.loads(event_data(openai_event.strip()))["error"]["code"] == "stream_interrupted"
    anthropic_event = error_event(api="messages", message="upstream stream failed")
    assert event_name(anthropic_event) == b"error"
    document = orjson.loads(event_data(anthropic_event.strip()))
    assert document["type"] == "error" and document["error"]["type"] == "api_error"
