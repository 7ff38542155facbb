"""switchboard-sim's Responses API, driven by the official openai SDK: JSON and typed events that the
SDK validates and accumulates, a length cut, and the fault profiles the sidecar's gate is tested with."""

from __future__ import annotations

import openai
import pytest
from openai.types.responses import Response
from sim_client import Sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def test_a_response(sim: Sim) -> None:
    answer = sim.openai().responses.create(model="chat", input="Say something.", instructions="Be terse.")
    Response.model_validate(answer.model_dump())  # every field the SDK requires, well typed
    assert answer.status == "completed" and answer.output_text.split()[:2] == ["alpha", "bravo"]
    assert answer.usage is not None and answer.usage.output_tokens == 16 and answer.usage.input_tokens == 6


def test_a_stream_accumulates_to_the_same_response(sim: Sim) -> None:
    client = sim.openai()
    with client.responses.stream(model="chat", input="Say something.") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed" and kinds.count("response.output_text.delta") == 16
    assert final.output_text == client.responses.create(model="chat", input="Say something.").output_text


def test_max_output_tokens_makes_it_incomplete(sim: Sim) -> None:
    answer = sim.openai().responses.create(model="chat", input="Say something.", max_output_tokens=3)
    assert answer.status == "incomplete" and answer.incomplete_details.reason == "max_output_tokens"
    assert answer.output_text == "alpha bravo charlie"


def test_fail_after_created_fails_the_stream_before_any_output(sim: Sim) -> None:
    sim.put_model("chat", fault="fail-after-created")
    events = list(sim.openai().responses.create(model="chat", input="x", stream=True))
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1].response.error.code == "server_error"
    answer = sim.openai().responses.create(model="chat", input="x")
    assert answer.status == "failed" and answer.error is not None


def test_midstream_fail_resets_after_the_deltas_it_was_told(sim: Sim) -> None:
    sim.put_model("chat", fault="midstream-fail", fail_after_chunks=2)
    seen = []
    with pytest.raises(openai.APIConnectionError):  # the connection is reset mid-stream
        for event in sim.openai().responses.create(model="chat", input="x", stream=True):
            seen.append(event.type)
    assert seen.count("response.output_text.delta") == 2 and "response.completed" not in seen


def test_first_event_error_is_the_typed_error_event(sim: Sim) -> None:
    sim.put_model("chat", fault="first-event-error")
    events = list(sim.openai().responses.create(model="chat", input="x", stream=True))
    assert [e.type for e in events] == ["error"] and events[0].code == "service_unavailable"
