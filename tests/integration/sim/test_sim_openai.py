"""switchboard-sim's OpenAI-compatible and Azure OpenAI APIs, driven by the official openai SDK."""

from __future__ import annotations

import openai
import pytest
from sim_client import API_KEY, Sim

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say something."},
]
# 14 + 14 characters of message text -> ceil(28 / 4) prompt tokens.
PROMPT_TOKENS = 7
SIXTEEN_WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa"
)


def test_chat_completion(sim: Sim) -> None:
    response = sim.openai().chat.completions.create(model="chat", messages=MESSAGES)
    assert response.model == "chat"
    assert response.object == "chat.completion"
    assert response.choices[0].message.content == SIXTEEN_WORDS
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (PROMPT_TOKENS, 16)
    assert response.usage.total_tokens == PROMPT_TOKENS + 16


@pytest.mark.parametrize("cap_field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_cuts_with_finish_reason_length(sim: Sim, cap_field: str) -> None:
    # extra_body sends the field as named, whichever of the two the parameter picks.
    response = sim.openai().chat.completions.create(
        model="chat", messages=MESSAGES, extra_body={cap_field: 3}
    )
    assert response.choices[0].message.content == "alpha bravo charlie"
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 3


def test_chat_stream(sim: Sim) -> None:
    stream = sim.openai().chat.completions.create(model="chat", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" and chunk.model == "chat" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == SIXTEEN_WORDS
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks), "no usage chunk unless asked for"


def test_chat_stream_with_usage(sim: Sim) -> None:
    stream = sim.openai().chat.completions.create(
        model="chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}, max_tokens=4
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == [], "the usage chunk has no choices, like OpenAI's"
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (
        PROMPT_TOKENS,
        4,
        PROMPT_TOKENS + 4,
    )
    assert chunks[-2].choices[0].finish_reason == "length"
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_text_completions_plain_and_streamed(sim: Sim) -> None:
    client = sim.openai()
    response = client.completions.create(model="chat", prompt="def add(a, b):", max_tokens=2)
    assert response.choices[0].text == "alpha bravo"
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.prompt_tokens == 4
    stream = client.completions.create(model="chat", prompt="x", stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == SIXTEEN_WORDS
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_embeddings(sim: Sim) -> None:
    client = sim.openai()
    # Without encoding_format the SDK asks for base64 and decodes it: both encodings must agree.
    default = client.embeddings.create(model="chat", input=["hello", "world"])
    floats = client.embeddings.create(model="chat", input=["hello", "world"], encoding_format="float")
    assert [len(d.embedding) for d in default.data] == [8, 8]
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding)
    assert default.data[0].embedding != default.data[1].embedding
    assert default.usage.prompt_tokens == 4
    assert default.model == "chat"
    sized = client.embeddings.create(model="chat", input="hello", dimensions=32, encoding_format="float")
    assert len(sized.data[0].embedding) == 32


def test_models_list(sim: Sim) -> None:
    ids = [model.id for model in sim.openai().models.list()]
    assert ids == ["chat", "keyed", "pinned", "azure-dep"]
    assert [model.id for model in sim.openai(pinned=True).models.list()] == ["pinned"]


def test_unknown_model_is_404_model_not_found(sim: Sim) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sim.openai().chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.code == "model_not_found"
    assert sim.call("GET", "/sim/stats")[1]["unmatched"] == 1


def test_a_prompt_over_the_context_window_is_400(sim: Sim) -> None:
    sim.put_model("chat", context_window=100)
    client = sim.openai()
    client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "x" * 360}], max_tokens=10
    )
    with pytest.raises(openai.BadRequestError) as caught:
        # 90 prompt tokens + 11 > 100.
        client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "x" * 360}], max_tokens=11
        )
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.type == "invalid_request_error"


def test_api_key_is_required_when_the_profile_sets_one(sim: Sim) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sim.openai(api_key="wrong").chat.completions.create(model="keyed", messages=MESSAGES)
    assert caught.value.code == "invalid_api_key"
    response = sim.openai(api_key=API_KEY).chat.completions.create(model="keyed", messages=MESSAGES)
    assert response.model == "keyed"
    assert sim.stats("keyed")["outcomes"] == {"unauthorized": 1, "ok": 1}


def test_pinned_port_serves_its_model_whatever_the_body_says(sim: Sim) -> None:
    response = sim.openai(pinned=True).chat.completions.create(model="anything-at-all", messages=MESSAGES)
    assert response.model == "pinned-served", "served_model names the upstream that answered"
    [entry] = sim.requests(model="pinned")
    assert (entry["model"], entry["profile"]) == ("anything-at-all", "pinned")
    assert sim.stats("pinned")["requests"] == 1
    assert sim.stats("chat")["requests"] == 0


def test_azure_deployment_path_and_api_key_header(sim: Sim) -> None:
    sim.put_model("azure-dep", api_key="azure-key-1")
    client = openai.AzureOpenAI(
        azure_endpoint=sim.base_url,
        api_key="azure-key-1",
        api_version="2024-10-21",
        max_retries=0,
        timeout=10,
    )
    response = client.chat.completions.create(model="azure-dep", messages=MESSAGES, max_tokens=2)
    assert response.model == "azure-dep"
    assert response.choices[0].message.content == "alpha bravo"
    embedded = client.embeddings.create(model="azure-dep", input="hi", encoding_format="float")
    assert len(embedded.data[0].embedding) == 8
    entry = sim.requests(model="azure-dep")[0]
    assert entry["path"] == "/openai/deployments/azure-dep/chat/completions"
    assert entry["headers"]["api-key"] == "[REDACTED]"
    wrong = openai.AzureOpenAI(
        azure_endpoint=sim.base_url, api_key="nope", api_version="2024-10-21", max_retries=0, timeout=10
    )
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="azure-dep", messages=MESSAGES)


def test_a_default_profile_serves_unknown_models_under_their_own_name(sim: Sim) -> None:
    sim.put_model("default", output_tokens=1)
    response = sim.openai().chat.completions.create(model="my-model", messages=MESSAGES)
    assert response.model == "my-model"
    assert response.choices[0].message.content == "alpha"
    assert sim.requests(model="default")[0]["model"] == "my-model"
