"""The four translation directions, each a table of at least 30 cases, against golden files and the SDKs.

For every case: the translated request and the translated answer (or error, or refusal) equal the golden
file's (`tests/testdata/translation/<direction>.json`; `SWITCHBOARD_UPDATE_GOLDENS=1` rewrites them);
the caller's request, the translated request and the translated answer parse with the official SDKs' own
types; and the endpoint's stream of the same answer, translated event by event, is accumulated by the
caller's SDK into the same final object as the translated non-streamed answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cases_anthropic_chat
import cases_chat_anthropic
import cases_responses
import pytest
from cases import Case
from wire import (
    CREATED,
    accumulate,
    anthropic_answer,
    chat_answer,
    stream_of,
    validate_answer,
    validate_request,
)

from switchboard_proxy.translation import TranslationError, Translator
from switchboard_proxy.translation.failures import translation_error_document

GOLDENS = Path(__file__).resolve().parents[2] / "testdata" / "translation"
UPDATE = os.environ.get("SWITCHBOARD_UPDATE_GOLDENS") == "1"
MAX_TOKENS = 4096  # the endpoint's output cap, what Messages gets when a chat caller sets none
DIRECTIONS: dict[str, tuple[str, str, list[Case]]] = {
    "chat-to-anthropic": ("chat", "messages", cases_chat_anthropic.CASES),
    "messages-to-chat": ("messages", "chat", cases_anthropic_chat.CASES),
    "responses-to-chat": ("responses", "chat", cases_responses.CHAT_CASES),
    "responses-to-anthropic": ("responses", "messages", cases_responses.ANTHROPIC_CASES),
}
DEFAULT_ANSWERS = {"messages": anthropic_answer(), "chat": chat_answer()}
ALL = [
    pytest.param(direction, case, id=f"{direction}:{case.id}")
    for direction, (_, _, table) in DIRECTIONS.items()
    for case in table
]
# A model's function arguments that are no JSON object cannot stream as Anthropic's input_json_delta (the
# SDK parses every piece); the non-streamed answer keeps them as text under "arguments".
NOT_STREAMABLE = {"tool-arguments-that-are-no-json-object"}
ANSWERED = [
    p
    for p in ALL
    if p.values[1].error is None and p.values[1].refused is None and p.values[1].id not in NOT_STREAMABLE  # type: ignore[union-attr]
]


def record_of(caller: str, wire: str, case: Case) -> dict[str, Any]:
    """What the golden file holds for a case."""
    translator = Translator(caller, wire, case.request, created=CREATED)
    if case.refused is not None:
        with pytest.raises(TranslationError) as refused:
            translator.request(max_tokens=MAX_TOKENS)
        return {"refused": translation_error_document(caller, refused.value)}
    record: dict[str, Any] = {"wire_request": translator.request(max_tokens=MAX_TOKENS)}
    if case.error is not None:
        record["error"] = translator.error(*case.error)
    else:
        record["answer"] = translator.answer(case.answer or DEFAULT_ANSWERS[wire])
    return record


def _golden(direction: str) -> dict[str, Any]:
    path = GOLDENS / f"{direction}.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_each_direction_has_a_table_of_at_least_30_cases(direction: str) -> None:
    table = DIRECTIONS[direction][2]
    assert len(table) >= 30 and len({case.id for case in table}) == len(table)
    assert any(case.error for case in table) and any(case.refused for case in table)


@pytest.mark.parametrize(("direction", "case"), ALL)
def test_translation_matches_its_golden_file(direction: str, case: Case) -> None:
    caller, wire, _ = DIRECTIONS[direction]
    record = record_of(caller, wire, case)
    path = GOLDENS / f"{direction}.json"
    if UPDATE:
        golden = _golden(direction)
        golden[case.id] = record
        path.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    assert record == _golden(direction).get(case.id), (
        f"{path}: {case.id} (SWITCHBOARD_UPDATE_GOLDENS=1 rewrites)"
    )


@pytest.mark.parametrize(("direction", "case"), ALL)
def test_translated_bodies_parse_with_the_sdks_types(direction: str, case: Case) -> None:
    caller, wire, _ = DIRECTIONS[direction]
    validate_request(caller, case.request, legacy=True)
    record = record_of(caller, wire, case)
    if "wire_request" in record:
        validate_request(wire, record["wire_request"])
    if "answer" in record:
        validate_answer(caller, record["answer"])
    for document in (record.get("error"), record.get("refused")):
        if document is not None and caller == "messages":
            assert document["type"] == "error" and {"type", "message"} <= document["error"].keys()
        elif document is not None:
            assert {"message", "type", "code", "param"} <= document["error"].keys()


@pytest.mark.parametrize(("direction", "case"), ANSWERED)
def test_a_translated_stream_accumulates_to_its_non_streamed_twin(direction: str, case: Case) -> None:
    caller, wire, _ = DIRECTIONS[direction]
    answer = case.answer or DEFAULT_ANSWERS[wire]
    # A chat client asks for the usage chunk (the other APIs' streams always end with their usage).
    request = (
        {**case.request, "stream_options": {"include_usage": True}} if caller == "chat" else case.request
    )
    translator = Translator(caller, wire, request, created=CREATED)
    stream = translator.stream(prompt_tokens=0)
    events = [out for event in stream_of(wire, answer) for out in stream.feed(*event)]
    streamed = accumulate(caller, events)
    twin = validate_answer(caller, translator.answer(answer)).model_dump(exclude_none=True)
    assert facts(caller, streamed) == facts(caller, twin)


def facts(api: str, document: dict[str, Any]) -> Any:
    """What a caller reads from a final object: output, how it ended, usage (not ids or timestamps)."""
    if api == "chat":
        choice = document["choices"][0]
        message = choice["message"]
        calls = [
            (c["id"], c["function"]["name"], _json(c["function"]["arguments"]))
            for c in message.get("tool_calls") or ()
        ]
        usage = document.get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        return (
            message.get("content") or "",
            calls,
            choice["finish_reason"],
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            cached,
        )
    if api == "messages":
        blocks = [
            (b["type"], b.get("text"), b.get("id"), b.get("name"), b.get("input"))
            for b in document["content"]
        ]
        usage = document["usage"]
        return (
            blocks,
            document["stop_reason"],
            usage["input_tokens"],
            usage["output_tokens"],
            usage.get("cache_read_input_tokens", 0),
        )
    items = []
    for item in document["output"]:
        if item["type"] == "message":
            items.append(
                (
                    "message",
                    item["status"],
                    [(p["type"], p.get("text"), p.get("refusal")) for p in item["content"]],
                )
            )
        else:
            items.append(
                (item["type"], item["status"], item["call_id"], item["name"], _json(item["arguments"]))
            )
    return items, document["status"], document.get("incomplete_details"), document.get("usage")


def _json(arguments: str) -> Any:
    """Arguments as the JSON they say (a stream passes the pieces on as written, an answer re-encodes)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
