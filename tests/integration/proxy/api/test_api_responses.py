"""The Responses API through the official openai SDK, with a real sim and a real sidecar: served natively
by an endpoint with the `responses` capability, translated for a chat-only and for an Anthropic endpoint;
a stream that fails after response.created but before any output fails over invisibly, one that fails
after output ends with the API's error event; state needs a native endpoint; the degraded answer."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

pytestmark = pytest.mark.integration

NATIVE = ["responses", "streaming", "tools"]
STATIC = {"mode": "static", "status": 200, "body": {"choices": [{"message": {"content": "later"}}]}}
MODELS = ("native", "native-b", "chat-only", "claude-r")
SERVED_ON = {"native": "/v1/responses", "chat-only": "/v1/chat/completions", "claude": "/v1/messages"}
ENDPOINT_OF = {"native": "native", "chat-only": "chat-only", "claude": "claude-r"}


@pytest.fixture(scope="module")
def responses(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [
        endpoint("native", sim.base_url, capabilities=NATIVE),
        endpoint("native-b", sim.base_url, capabilities=NATIVE),
        endpoint("chat-only", sim.base_url),
        endpoint("claude-r", sim.base_url, provider="anthropic"),
        endpoint("dead", sim.base_url, url="http://127.0.0.1:9/v1"),
        policy("p", chain=["native-b"], retries={"attempts": 0}),
        policy("to-native", chain=["native"], retries={"attempts": 0}),
        policy("degrade", retries={"attempts": 0}, degraded=STATIC),
        route("native", ["native"], fallbackPolicy="p"),
        route("chat-only", ["chat-only"], fallbackPolicy="to-native"),
        route("claude", ["claude-r"]),
        route("down", ["dead"], fallbackPolicy="degrade"),
    ]
    resources = write_resources(tmp_path_factory.mktemp("responses") / "resources", documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


@pytest.fixture(autouse=True)
def _models(responses: Stack) -> None:
    for name in MODELS:
        responses.fault(name, output_tokens=6)


@pytest.mark.parametrize("model", list(SERVED_ON))
def test_responses_create(responses: Stack, model: str) -> None:
    raw = responses.openai().responses.with_raw_response.create(
        model=model, input="Say hello.", instructions="Be brief."
    )
    answer = raw.parse()
    assert raw.headers["x-switchboard-endpoint"] == ENDPOINT_OF[model]
    assert answer.status == "completed" and len(answer.output_text.split()) == 6
    assert answer.usage is not None and answer.usage.output_tokens == 6 and answer.usage.input_tokens > 0
    assert responses.sim_requests(ENDPOINT_OF[model])[-1]["path"] == SERVED_ON[model]


@pytest.mark.parametrize("model", list(SERVED_ON))
def test_responses_stream_accumulates_to_the_same_answer(responses: Stack, model: str) -> None:
    client = responses.openai()
    plain = client.responses.create(model=model, input="Say hello.")
    with client.responses.stream(model=model, input="Say hello.") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 6
    assert final.output_text == plain.output_text and final.usage.output_tokens == plain.usage.output_tokens


def test_a_stream_that_fails_after_created_before_output_fails_over_invisibly(responses: Stack) -> None:
    responses.fault("native", fault="fail-after-created")
    with responses.openai().responses.with_streaming_response.create(
        model="native", input="hi", stream=True
    ) as raw:
        assert raw.headers["x-switchboard-endpoint"] == "native-b"
        assert raw.headers["x-switchboard-fallback-reason"] == "server-error"
        events = list(raw.parse())
    kinds = [event.type for event in events]
    assert "response.failed" not in kinds and kinds[-1] == "response.completed"
    assert kinds.count("response.created") == 1  # the failed attempt's preamble never reached the client
    assert events[-1].response.output_text.split() and len(responses.sim_requests("native")) == 1


@pytest.mark.parametrize("model", ["native", "chat-only"])
def test_a_stream_that_fails_after_output_ends_with_the_error_event(responses: Stack, model: str) -> None:
    responses.fault(ENDPOINT_OF[model], fault="midstream-fail", fail_after_chunks=2)
    events = list(responses.openai().responses.create(model=model, input="hi", stream=True))
    kinds = [event.type for event in events]
    assert kinds.count("response.output_text.delta") == 2 and kinds[-1] == "error"
    assert "after the stream started" in events[-1].message
    assert responses.sim_requests("native-b") == [] or model == "chat-only"  # never continued elsewhere
    assert len(responses.sim_requests(ENDPOINT_OF[model])) == 1


def test_state_is_passed_through_where_the_endpoint_keeps_it(responses: Stack) -> None:
    answer = responses.openai().responses.create(
        model="native", input="again", previous_response_id="resp_1", store=True
    )
    assert answer.status == "completed"
    sent = responses.sim_requests("native")[-1]["body"]
    assert sent["previous_response_id"] == "resp_1" and sent["store"] is True


def test_state_on_a_route_that_cannot_keep_it_is_a_clear_400(responses: Stack) -> None:
    """chat-only's chain has the native endpoint: a stateful request goes there, never to translation."""
    answer = responses.openai().responses.with_raw_response.create(
        model="chat-only", input="x", previous_response_id="resp_1"
    )
    assert answer.headers["x-switchboard-endpoint"] == "native"
    with pytest.raises(openai.BadRequestError) as caught:
        responses.openai().responses.create(model="claude", input="again", previous_response_id="resp_1")
    assert caught.value.code == "unsupported_by_route" and "previous" not in responses.sim_requests(
        "claude-r"
    )


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_the_degraded_answer_is_a_response(responses: Stack, streamed: bool) -> None:
    client = responses.openai()
    if streamed:
        with client.responses.stream(model="down", input="hi") as stream:
            answer = stream.get_final_response()
    else:
        answer = client.responses.create(model="down", input="hi")
    assert answer.output_text == "later" and answer.status == "completed"
