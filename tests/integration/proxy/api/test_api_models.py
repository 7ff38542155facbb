"""The model APIs through the sidecar with the official SDKs: what an application sees after changing
nothing but its base URL. Every response keeps the upstream's `model`; streams end the way the SDKs expect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sidecars import AZURE_API_VERSION, MODEL_IDS, azure_endpoint

from support.fake_upstream import running_fake_upstream
from support.processes import Process
from support.stack import Stack, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MESSAGES = [{"role": "user", "content": "Say something."}]


def test_chat_completion_answers_with_the_upstreams_model_and_routing_headers(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(model="chat", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "chat-a"  # the upstream's, not the route's name
    assert raw.headers["X-Switchboard-Route"] == "chat"
    assert raw.headers["X-Switchboard-Variant"] == "default"
    assert raw.headers["X-Switchboard-Endpoint"] == "chat-a"
    assert raw.headers["X-Switchboard-Attempts"] == "1"
    assert "X-Switchboard-Fallback-Reason" not in raw.headers
    assert "X-Switchboard-Degraded" not in raw.headers
    usage = completion.usage
    assert usage is not None and usage.completion_tokens > 0
    # chat-a costs $1 per million prompt tokens and $2 per million completion tokens.
    expected = (usage.prompt_tokens * 1.0 + usage.completion_tokens * 2.0) / 1_000_000
    assert float(raw.headers["X-Switchboard-Cost-Usd"]) == pytest.approx(expected, abs=1e-8)


def test_a_served_model_name_of_the_upstream_reaches_the_client(stack: Stack) -> None:
    completion = stack.openai().chat.completions.create(model="summarize", messages=MESSAGES)
    assert completion.model == "chat-b-upstream"


def test_chat_stream_without_usage_hides_the_usage_chunk_the_sidecar_asked_for(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="chat", messages=MESSAGES, stream=True
    )
    assert raw.headers["X-Switchboard-Endpoint"] == "chat-a"
    assert "X-Switchboard-Cost-Usd" not in raw.headers  # not known before the stream ends
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 16  # the sim's default output_tokens, nothing lost
    assert chunks[-1].choices and chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert all(chunk.model == "chat-a" for chunk in chunks)
    sent = stack.sim_requests("chat-a")[-1]["body"]
    assert sent["stream_options"] == {"include_usage": True}  # asked upstream, for accounting


def test_chat_stream_with_include_usage_ends_with_the_usage_chunk(stack: Stack) -> None:
    before = stack.metric("switchboard_tokens_total", route="chat", endpoint="chat-a", kind="completion")
    stream = stack.openai().chat.completions.create(
        model="chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None and last.usage.completion_tokens == 16
    after = stack.metric("switchboard_tokens_total", route="chat", endpoint="chat-a", kind="completion")
    assert after - before == 16


def test_text_completions_plain_and_streamed(stack: Stack) -> None:
    client = stack.openai()
    completion = client.completions.create(model="chat", prompt="def add(a, b):")
    assert completion.choices[0].text and completion.model == "chat-a"
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="chat", prompt="def add(a, b):", stream=True)
        if c.choices
    )
    assert streamed == completion.choices[0].text


def test_embeddings(stack: Stack) -> None:
    result = stack.openai().embeddings.create(model="embed", input=["one", "two"])
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == 8 for item in result.data)
    assert result.model == "emb"
    assert result.usage.prompt_tokens > 0


def test_models_lists_routes_and_their_aliases(stack: Stack) -> None:
    models = stack.openai().models.list()
    assert {model.id for model in models} == MODEL_IDS
    assert all(model.owned_by == "switchboard" for model in models)


def test_anthropic_messages(stack: Stack) -> None:
    raw = stack.anthropic().messages.with_raw_response.create(
        model="claude", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.model == "claude-ep"
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 10
    assert raw.headers["X-Switchboard-Route"] == "claude"
    assert raw.headers["X-Switchboard-Endpoint"] == "claude-ep"


def test_anthropic_messages_stream(stack: Stack) -> None:
    client = stack.anthropic()
    with client.messages.stream(
        model="claude", max_tokens=12, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].type == "text" and final.content[0].text == text
    assert final.model == "claude-ep"
    assert final.usage.output_tokens == 12
    sent = stack.sim_requests("claude-ep")[-1]
    assert sent["path"] == "/v1/messages" and sent["stream"] is True
    assert sent["headers"]["anthropic-version"]  # forwarded from the SDK


def test_anthropic_sdk_on_an_openai_route_is_served_through_translation(stack: Stack) -> None:
    message = stack.anthropic().messages.create(
        model="chat", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.type == "message" and message.content[0].text
    assert message.stop_reason == "max_tokens"  # the sim's 16 words cut at 5


def test_azure_endpoint_gets_deployment_path_api_key_header_and_upstream_model(stack: Stack) -> None:
    completion = stack.openai().chat.completions.create(model="azure", messages=MESSAGES)
    assert completion.model == "azdep"  # the sim answered, so it accepted the api-key header
    sent = stack.sim_requests("azdep")[-1]
    assert sent["path"] == "/openai/deployments/azdep/chat/completions"
    assert sent["headers"]["api-key"] == "[REDACTED]"  # present (the sim redacts what it records)
    assert "authorization" not in sent["headers"]
    assert sent["body"]["model"] == "azdep"


def test_azure_api_version_query_reaches_the_upstream(tmp_path: Path, sim: Process) -> None:
    # The sim does not record query strings; a recording upstream does.
    with running_fake_upstream() as upstream:
        documents = [
            azure_endpoint("az", upstream.base_url + "/ok", deployment="dep-1", key_env="ECHO_AZURE_KEY"),
            route("azure", ["az"], default=True),
        ]
        proxy = start_proxy(resources=write_resources(tmp_path, documents), env={"ECHO_AZURE_KEY": "k" * 20})
        try:
            stack = Stack(sim=sim, proxy=proxy, resources=tmp_path)
            completion = stack.openai().chat.completions.create(model="azure", messages=MESSAGES)
        finally:
            proxy.stop()
    assert completion.model == "dep-1"
    [received] = upstream.received
    assert received.path == f"/ok/openai/deployments/dep-1/chat/completions?api-version={AZURE_API_VERSION}"
    assert received.headers["api-key"] == "k" * 20
