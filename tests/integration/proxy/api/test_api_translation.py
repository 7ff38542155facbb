"""OpenAI chat <-> Anthropic Messages through the official SDKs, with a real sim and a real sidecar: each
SDK served by an endpoint of the other protocol, plain and streamed, and routes whose fallback chain mixes
protocols failing over both ways, with X-Switchboard-Endpoint saying which one served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def mixed(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Route `gpt-first`: an OpenAI endpoint, then an Anthropic one; `claude-first` the other way round."""
    documents = [
        endpoint("gpt", sim.base_url),
        endpoint("claude", sim.base_url, provider="anthropic"),
        policy("then-claude", chain=["claude"], retries={"attempts": 0}),
        policy("then-gpt", chain=["gpt"], retries={"attempts": 0}),
        route("gpt-first", ["gpt"], fallbackPolicy="then-claude"),
        route("claude-first", ["claude"], fallbackPolicy="then-gpt"),
    ]
    resources = write_resources(tmp_path_factory.mktemp("mixed") / "resources", documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


@pytest.fixture(autouse=True)
def _models(mixed: Stack) -> None:
    mixed.fault("gpt", output_tokens=5)
    mixed.fault("claude", output_tokens=4)


def test_the_openai_sdk_on_an_anthropic_endpoint(mixed: Stack) -> None:
    raw = mixed.openai().chat.completions.with_raw_response.create(
        model="claude-first", messages=HELLO, max_tokens=20
    )
    completion = raw.parse()
    assert raw.headers["x-switchboard-endpoint"] == "claude"
    assert (
        len(completion.choices[0].message.content.split()) == 4
        and completion.choices[0].finish_reason == "stop"
    )
    assert completion.usage.completion_tokens == 4
    sent = mixed.sim_requests("claude")[-1]
    assert sent["path"] == "/v1/messages" and sent["body"]["max_tokens"] == 20


def test_the_openai_sdk_streams_from_an_anthropic_endpoint(mixed: Stack) -> None:
    client = mixed.openai()
    with client.chat.completions.stream(
        model="claude-first", messages=HELLO, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    plain = client.chat.completions.create(model="claude-first", messages=HELLO)
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert final.usage.completion_tokens == plain.usage.completion_tokens == 4


def test_the_anthropic_sdk_on_an_openai_endpoint(mixed: Stack) -> None:
    raw = mixed.anthropic().messages.with_raw_response.create(
        model="gpt-first", max_tokens=20, system="Be brief.", messages=HELLO
    )
    message = raw.parse()
    assert raw.headers["x-switchboard-endpoint"] == "gpt"
    assert len(message.content[0].text.split()) == 5 and message.stop_reason == "end_turn"
    sent = mixed.sim_requests("gpt")[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }


def test_the_anthropic_sdk_streams_from_an_openai_endpoint(mixed: Stack) -> None:
    client = mixed.anthropic()
    with client.messages.stream(model="gpt-first", max_tokens=20, messages=HELLO) as stream:
        final = stream.get_final_message()
    plain = client.messages.create(model="gpt-first", max_tokens=20, messages=HELLO)
    assert final.content[0].text == plain.content[0].text and final.usage.output_tokens == 5


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_chain_fails_over_from_openai_to_anthropic(mixed: Stack, streamed: bool) -> None:
    mixed.fault("gpt", fault="error-503")
    openai_client, anthropic_client = mixed.openai(), mixed.anthropic()
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-first", messages=HELLO, stream=streamed
    )
    assert (
        raw.headers["x-switchboard-endpoint"] == "claude"
        and raw.headers["x-switchboard-fallback-reason"] == "overloaded"
    )
    parsed = raw.parse()
    text = (
        "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
        if streamed
        else parsed.choices[0].message.content
    )
    assert len(text.split()) == 4
    # The Anthropic SDK on the same route: its first endpoint is the OpenAI one, translated; it fails over
    # to the Anthropic endpoint, served natively.
    answer = anthropic_client.messages.with_raw_response.create(
        model="gpt-first", max_tokens=20, messages=HELLO
    )
    assert (
        answer.headers["x-switchboard-endpoint"] == "claude"
        and len(answer.parse().content[0].text.split()) == 4
    )


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_a_chain_fails_over_from_anthropic_to_openai(mixed: Stack, streamed: bool) -> None:
    mixed.fault("claude", fault="overloaded")
    anthropic_client, openai_client = mixed.anthropic(), mixed.openai()
    if streamed:
        with anthropic_client.messages.with_streaming_response.create(
            model="claude-first", max_tokens=20, messages=HELLO, stream=True
        ) as raw:
            assert raw.headers["x-switchboard-endpoint"] == "gpt"
            events = list(raw.parse())
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    else:
        raw = anthropic_client.messages.with_raw_response.create(
            model="claude-first", max_tokens=20, messages=HELLO
        )
        assert raw.headers["x-switchboard-endpoint"] == "gpt"
        text = raw.parse().content[0].text
    assert len(text.split()) == 5
    completion = openai_client.chat.completions.with_raw_response.create(model="claude-first", messages=HELLO)
    assert completion.headers["x-switchboard-endpoint"] == "gpt"
    assert len(completion.parse().choices[0].message.content.split()) == 5
